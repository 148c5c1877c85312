"""Rules scaling: the decision time per message as a mailbox's reject lists grow.

Lists have no total limit, so the per-message decision must not grow with them: From
entries are looked up in hash maps (SuffixMatcher: one lookup per domain label of the
address), Subject entries in one Aho-Corasick automaton (SubstringMatcher: linear in the
subject). This benchmark checks that in-process, without Postfix or a milter socket.

The work measured per message is what the milter does at end of headers for one
recipient (sekisho.milter.transaction): build a fresh Message from the envelope sender
(normalize_address) and the header fields, and call decide() with the recipient's
Policy. The Message is new each time, so decoding the Subject (RFC 2047, ISO-2022-JP,
raw 8-bit) and parsing the header From are in the figure whenever a rule needs them.

The message mix is fixed (seeded): --messages messages from several hundred domains of
2 to 5 labels, with Received, From (bare, quoted or RFC 2047 display names), To,
Subject, Date, Message-ID and MIME fields. Subjects are 10 to 120 characters, English or
Japanese; the Japanese ones are sent as ISO-2022-JP B, UTF-8 B encoded-words or raw
UTF-8. About 2 % of the messages come from a listed sender and another 2 % have a listed
phrase in the subject; every other message misses every rule, so what the figures show
is the lookup cost, not how soon a hit ends the decision. The hits always fall on the
first 10 entries, which every list size holds, so each size sees the same hits.

Setups (one Policy each, every other list empty):

  none      no entries: the fixed cost (Message, envelope normalisation, decide())
  from      From reject list of 10, 1,000, 10,000 and 100,000 entries: spamN.example
            (domain and subdomains), userN@bulkM.example (address), @exactN.example
            (that domain only) and a few internationalised domains (スパムN.jp)
  subject   Subject reject list of 10, 1,000 and 10,000 phrases (Japanese and English
            spam words, alone, combined or numbered; 2 to 30 characters)
  both      the largest From and Subject lists together (not in the goal)

"build ms" is SuffixMatcher.build / SubstringMatcher.build from the entries as typed,
normalisation included (the milter's load_policy starts from the keys the store kept,
so it does less); it is paid once per policy snapshot, not per message. Each setup first
decides the whole mix once untimed; then the setups take turns, --rounds times, each
round starting with the next setup, and a round times the whole mix with
time.perf_counter_ns. Reported: the median round in µs per message, the fastest and
slowest round, and the hits (quarantine decisions) against the number the mix was made
with: a difference means generated entries match messages they were not meant to.

Goal: per list, µs per message at the largest size <= 2x that at the smallest.

    .venv/bin/python bench/rules_scaling.py [--rounds 5] [--messages 2000] [--only from]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from importlib.metadata import PackageNotFoundError, version
from statistics import median
from typing import TypeVar

from sekisho.rules.addresses import EMPTY_MATCHER, SuffixMatcher, normalize_address
from sekisho.rules.decide import decide
from sekisho.rules.model import Message, Policy
from sekisho.rules.subjects import EMPTY_SUBSTRING_MATCHER, SubstringMatcher, subject_key
from sekisho.rules.validate import ListEntry

FROM_SIZES = (10, 1_000, 10_000, 100_000)
SUBJECT_SIZES = (10, 1_000, 10_000)
GOAL_RATIO = 2.0
HIT_SHARE = 0.02  # of the messages, for each of the two lists
HIT_ENTRIES = 10  # hits fall on these first entries, present at every list size
SEED = 20250601
RECIPIENT = "bench@example.jp"
NOISY_SPREAD = 0.20  # rounds of one setup this far apart: the machine is not quiet

Headers = tuple[tuple[str, str], ...]
T = TypeVar("T")

# --- the message mix ------------------------------------------------------------------------

# Ordinary mail: none of these words contains, or runs into, a listed phrase.
JA_WORDS = (
    "会議", "打ち合わせ", "ご案内", "お知らせ", "請求書", "見積書", "納品書", "ご確認",
    "議事録", "日程", "変更", "資料", "送付", "来週", "月次報告", "定例", "採用", "面接",
    "出張", "経費精算", "契約", "更新", "お願い", "ご連絡", "営業部", "総務部", "新製品",
    "発表会", "セミナー", "研修", "年末", "忘年会", "ありがとうございました", "ご注文",
    "発送", "完了", "配送", "予約", "受付", "お問い合わせ", "回答", "修正版", "進捗",
    "報告", "について", "の件", "【重要】", "【再送】", "東京支店", "大阪", "四半期",
)  # fmt: skip
EN_WORDS = (
    "meeting", "invoice", "report", "schedule", "update", "agenda", "minutes", "project",
    "review", "order", "shipping", "confirmation", "notes", "weekly", "monthly", "status",
    "quarterly", "budget", "draft", "proposal", "team", "lunch", "travel", "expenses",
    "release", "build", "server", "maintenance", "reminder", "newsletter", "account",
    "password", "reset", "welcome", "delivery", "receipt", "payment", "request",
    "feedback", "survey", "Q3", "v2.1", "#4512", "(Tokyo)",
)  # fmt: skip
PREFIXES = ("", "", "", "Re: ", "RE: ", "Fwd: ", "[team] ", "[info] ")
JA_SEPARATORS = ("", "", " ", "・", "／", "　")

# Spam words for the Subject list; the first HIT_ENTRIES entries are the ones hit.
SPAM_JA = (
    "激安", "無料", "当選", "副業", "出会い", "高収入", "限定オファー", "今すぐ登録",
    "儲かる", "現金プレゼント", "未公開株", "返済不要", "即日融資", "特別招待", "完全無料",
    "秘密の方法", "副収入", "在宅ワーク", "美女", "人妻", "当選金", "振込", "投資案件",
    "必ず稼げる", "ボーナス支給", "ギフト券", "アダルト", "バイアグラ", "カジノ", "仮想通貨",
)  # fmt: skip
SPAM_EN = (
    "viagra", "casino", "lottery", "jackpot", "bitcoin doubler", "free money", "cheap pills",
    "winner", "hot singles", "crypto profit", "act now", "limited offer", "claim your prize",
    "weight loss", "payday loan", "100% free", "click here", "earn cash", "risk free",
    "million dollars",
)  # fmt: skip
SUBJECT_HITS = (
    "激安", "当選", "viagra", "未公開株", "free money", "出会い", "casino", "現金プレゼント",
    "jackpot", "副業",
)  # fmt: skip

# Sender domains: a base name under a public suffix, with 0 to 2 host labels in front.
BASE_NAMES = (
    "sakura", "hikari", "nami", "yama", "kawa", "tokyo", "osaka", "mori", "kaze", "sora",
    "hana", "umi", "tsuki", "hoshi", "midori", "aozora", "fuji", "kumo", "shop", "news",
)  # fmt: skip
SUFFIXES = ("com", "net", "org", "jp", "co.jp", "ne.jp", "or.jp", "ac.jp")
HOST_LABELS = ("mail", "news", "mx1", "em", "m", "send", "info", "mta2", "bounce")
LOCAL_PARTS = ("info", "news", "noreply", "support", "taro.yamada", "h-sato", "office")
DISPLAY_JA = ("山田太郎", "株式会社サンプル", "営業部 佐藤", "カスタマーサポート", "総務課")
DISPLAY_EN = ("Taro Yamada", "Shop News", "Customer Support", "Hanako Sato", "Billing")
DOMAIN_POOL = 600
BASE_DATE = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    """One message as the milter has it at end of headers."""

    sender: str
    headers: Headers


@dataclass(frozen=True)
class Mix:
    samples: tuple[Sample, ...]
    from_hits: int
    subject_hits: int
    subject_kinds: dict[str, int]


def sender_domains(rng: random.Random) -> list[str]:
    domains: set[str] = set()
    while len(domains) < DOMAIN_POOL:
        suffix = rng.choice(SUFFIXES)
        base = f"{rng.choice(BASE_NAMES)}{rng.randrange(1000)}"
        room = 5 - 1 - suffix.count(".") - 1  # labels left of the 5 at most
        hosts = rng.sample(HOST_LABELS, rng.randint(0, min(2, room)))
        domains.add(".".join([*hosts, base, suffix]))
    return sorted(domains)


def subject_text(rng: random.Random, japanese: bool) -> str:
    """An ordinary subject of 10 to 120 characters."""
    target = rng.randint(10, 120)
    words = JA_WORDS if japanese else EN_WORDS
    text = rng.choice(PREFIXES)
    while len(text) < target:
        if japanese and rng.random() < 0.15:
            text += f" {rng.choice(EN_WORDS)} "
        else:
            text += rng.choice(words)
        text += rng.choice(JA_SEPARATORS) if japanese else " "
    return text[:target].strip() or words[0]


def with_phrase(rng: random.Random, text: str, phrase: str) -> str:
    cut = rng.randrange(len(text) + 1)
    return f"{text[:cut]} {phrase} {text[cut:]}".strip()


def encoded_subject(rng: random.Random, text: str) -> tuple[str, str]:
    """(the Subject field value as sent, its kind)."""
    if text.isascii():
        return text, "ASCII"
    pick = rng.random()
    if pick < 0.40:
        return Header(text, "iso-2022-jp").encode(), "ISO-2022-JP B"
    if pick < 0.75:
        return Header(text, "utf-8").encode(), "UTF-8 B"
    return text, "raw UTF-8"  # 8-bit bytes that decoded as UTF-8 reach us as plain str


def from_hit_sender(rng: random.Random, index: int) -> str:
    """An address that the From entry ``index`` (< HIT_ENTRIES) covers."""
    local = rng.choice(LOCAL_PARTS)
    entry = from_entry(index)
    if entry.startswith("@"):
        return f"{local}{entry}"
    if "@" in entry:
        return entry.replace("user", "User", 1)  # case does not matter
    return f"{local}@{rng.choice(('', 'mail.', 'news.m.'))}{entry}"


def from_field(rng: random.Random, address: str) -> str:
    pick = rng.random()
    if pick < 0.3:
        return address
    if pick < 0.6:
        return f'"{rng.choice(DISPLAY_EN)}" <{address}>'
    name = Header(rng.choice(DISPLAY_JA), rng.choice(("utf-8", "iso-2022-jp"))).encode()
    return f"{name} <{address}>"


def make_mix(count: int, seed: int) -> Mix:
    rng = random.Random(seed)
    domains = sender_domains(rng)
    hits = max(1, round(count * HIT_SHARE))
    marks = ["from"] * hits + ["subject"] * hits + [""] * max(0, count - 2 * hits)
    rng.shuffle(marks)
    marks = marks[:count]
    samples: list[Sample] = []
    kinds: dict[str, int] = {}
    for number, mark in enumerate(marks):
        domain = rng.choice(domains)
        address = f"{rng.choice(LOCAL_PARTS)}@{domain}"
        if mark == "from":
            address = from_hit_sender(rng, rng.randrange(HIT_ENTRIES))
        pick = rng.random()
        if pick < 0.02:
            sender = ""  # a bounce
        elif pick < 0.35:
            host = f"{rng.choice(HOST_LABELS)}." if domain.count(".") < 4 else ""
            sender = f"bounce-{rng.getrandbits(32):08x}@{host}{domain}"  # still <= 5 labels
            if mark == "from":
                sender = address
        else:
            sender = address
        text = subject_text(rng, japanese=rng.random() < 0.6)
        if mark == "subject":
            text = with_phrase(rng, text, rng.choice(SUBJECT_HITS))
        subject, kind = encoded_subject(rng, text)
        kinds[kind] = kinds.get(kind, 0) + 1
        received = tuple(
            (
                "Received",
                f"from {rng.choice(HOST_LABELS)}.{domain} (unknown [192.0.2.{rng.randrange(256)}])"
                f"\n\tby mx.example.jp (Postfix) with ESMTPS id {rng.getrandbits(40):010X}"
                f"\n\tfor <{RECIPIENT}>; Sun, 1 Jun 2025 09:00:00 +0900",
            )
            for _ in range(rng.randint(1, 3))
        )
        date = BASE_DATE + timedelta(seconds=number * 37)
        headers: Headers = (
            *received,
            ("From", from_field(rng, address)),
            ("To", RECIPIENT),
            ("Subject", subject),
            ("Date", format_datetime(date)),
            ("Message-ID", f"<{rng.getrandbits(64):016x}.{number}@{domain}>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'text/plain; charset="UTF-8"'),
        )
        samples.append(Sample(sender, headers))
    return Mix(tuple(samples), marks.count("from"), marks.count("subject"), kinds)


# --- the lists ------------------------------------------------------------------------------


def from_entry(index: int) -> str:
    if index % 50 == 49:
        return f"スパム{index}.jp"  # internationalised: matched as xn--…
    kind = index % 3
    if kind == 0:
        return f"spam{index}.example"
    if kind == 1:
        return f"user{index}@bulk{index % 97}.example"
    return f"@exact{index}.example"


def from_entries(count: int) -> list[str]:
    return [from_entry(index) for index in range(count)]


def subject_entries(count: int, seed: int) -> list[str]:
    """``count`` phrases with distinct keys: the hit phrases first, then generated ones."""
    rng = random.Random(seed)
    entries = list(SUBJECT_HITS[:count])
    keys = {subject_key(entry) for entry in entries}
    number = 0
    while len(entries) < count:
        number += 1
        japanese = rng.choice(SPAM_JA)
        english = rng.choice(SPAM_EN)
        pick = rng.randrange(6)
        if pick == 0:
            entry = rng.choice((japanese, english))
        elif pick == 1:
            entry = f"{japanese}{rng.choice(SPAM_JA)}"
        elif pick == 2:
            entry = f"{english} {rng.choice(SPAM_EN)}".title()
        elif pick == 3:
            entry = f"{japanese} {english}"
        elif pick == 4:
            entry = f"【{japanese}】{number}"
        else:
            entry = f"{english.upper()} #{number}"
        entry = entry[:30].strip()
        key = subject_key(entry)
        if len(entry) >= 2 and key not in keys:
            keys.add(key)
            entries.append(entry)
    return entries


# --- setups and rounds ----------------------------------------------------------------------


@dataclass
class Setup:
    name: str
    from_count: int
    subject_count: int
    policy: Policy
    build_ms: float
    expected_hits: int
    rounds: list[int] = field(default_factory=list)  # ns for the whole mix
    hits: set[int] = field(default_factory=set)

    @property
    def entries(self) -> int:
        return self.from_count + self.subject_count


def timed_ms(build: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter_ns()
    result = build()
    return result, (time.perf_counter_ns() - start) / 1e6


def make_setup(name: str, from_count: int, subject_count: int, mix: Mix) -> Setup:
    senders = from_entries(from_count)
    phrases = subject_entries(subject_count, SEED + 1)
    reject_from, from_ms = timed_ms(lambda: SuffixMatcher.build(senders))
    reject_subject, subject_ms = timed_ms(
        lambda: SubstringMatcher.build(ListEntry(p, subject_key(p)) for p in phrases)
    )
    if len(reject_from) != from_count or len(reject_subject) != subject_count:
        raise RuntimeError(f"{name}: the matchers hold fewer entries than generated")
    policy = Policy(
        address=RECIPIENT,
        account_id=1,
        version=1,
        reject_from=reject_from if from_count else EMPTY_MATCHER,
        reject_subject=reject_subject if subject_count else EMPTY_SUBSTRING_MATCHER,
    )
    expected = (mix.from_hits if from_count else 0) + (mix.subject_hits if subject_count else 0)
    return Setup(name, from_count, subject_count, policy, from_ms + subject_ms, expected)


def run_round(policy: Policy, samples: Sequence[Sample]) -> tuple[int, int]:
    """(ns for deciding every sample, how many were quarantined)."""
    start = time.perf_counter_ns()
    decisions = [decide(policy, Message(normalize_address(s.sender), s.headers)) for s in samples]
    elapsed = time.perf_counter_ns() - start
    return elapsed, sum(decision.quarantined for decision in decisions)


def wanted_setups(only: str) -> list[tuple[str, int, int]]:
    setups = [("none", 0, 0)]
    if only in ("", "from"):
        setups += [("from", size, 0) for size in FROM_SIZES]
    if only in ("", "subject"):
        setups += [("subject", 0, size) for size in SUBJECT_SIZES]
    if not only:
        setups.append(("both", FROM_SIZES[-1], SUBJECT_SIZES[-1]))
    return setups


# --- report ---------------------------------------------------------------------------------


def per_message_us(ns: float, messages: int) -> float:
    return ns / messages / 1000


def report(setups: Sequence[Setup], messages: int) -> None:
    print()
    header = (
        f"{'list':<8} {'entries':>9} {'build ms':>9} {'µs/message':>11} "
        f"{'min–max µs':>13}  {'hits/meant':>10}"
    )
    print(header)
    print("-" * len(header))
    medians: dict[tuple[str, int], float] = {}
    mismatched = []
    for setup in setups:
        times = [per_message_us(ns, messages) for ns in setup.rounds]
        medians[setup.name, setup.entries] = median(times)
        hits = ",".join(str(h) for h in sorted(setup.hits)) + f"/{setup.expected_hits}"
        if setup.hits != {setup.expected_hits}:
            mismatched.append(setup)
            hits += " !"
        print(
            f"{setup.name:<8} {setup.entries:>9,} {setup.build_ms:>9.1f} "
            f"{median(times):>11.2f} {min(times):>6.2f}–{max(times):<6.2f}  "
            f"{hits:>10}"
        )
    print()
    print(f"{'ratio (µs/message)':<32} {'largest/smallest':>16}  goal ≤ {GOAL_RATIO:g}×")
    for name, sizes in (("from", FROM_SIZES), ("subject", SUBJECT_SIZES)):
        small, large = medians.get((name, sizes[0])), medians.get((name, sizes[-1]))
        if small is None or large is None:
            continue
        ratio = large / small
        label = f"{name} {sizes[-1]:,} / {sizes[0]:,}"
        print(f"{label:<32} {ratio:>16.2f}  {'met' if ratio <= GOAL_RATIO else 'NOT met'}")
    for setup in mismatched:
        print(
            f"\n{setup.name} {setup.entries:,}: {sorted(setup.hits)} hits, "
            f"{setup.expected_hits} meant: generated entries match other messages too."
        )
    spread = max(
        ((max(s.rounds) / min(s.rounds) - 1, f"{s.name} {s.entries:,}") for s in setups),
        default=(0.0, ""),
    )
    if spread[0] > NOISY_SPREAD:
        print(
            f"\nThe rounds of {spread[1]} were {spread[0]:.0%} apart: something else loads "
            "this machine; compare medians, or run again with more --rounds."
        )


# --- main -----------------------------------------------------------------------------------


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per setup")
    parser.add_argument("--messages", type=int, default=2000, help="messages in the mix")
    parser.add_argument(
        "--only", choices=("from", "subject"), default="", help="measure one list only"
    )
    options = parser.parse_args()
    if options.rounds < 1 or options.messages < 1:
        parser.error("--rounds and --messages must be at least 1")
    return options


def main() -> None:
    options = parse_arguments()
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"pyahocorasick {package_version('pyahocorasick')}"
    )
    print(
        f"{platform.platform()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} before the start"
    )
    mix = make_mix(options.messages, SEED)
    samples = mix.samples
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(mix.subject_kinds.items()))
    print(
        f"{len(samples)} messages ({kinds} subjects); {mix.from_hits} meant to hit the From "
        f"list, {mix.subject_hits} the Subject list; median of {options.rounds} round(s)"
    )
    setups = []
    for name, from_count, subject_count in wanted_setups(options.only):
        print(f"building {name} {from_count + subject_count:,} ...", flush=True)
        setup = make_setup(name, from_count, subject_count, mix)
        run_round(setup.policy, samples)  # warm-up: codecs, regexes, caches
        setups.append(setup)
    gc.collect()
    for round_number in range(options.rounds):
        # Each round starts with another setup, so that none always follows the same one.
        shift = round_number % len(setups)
        for setup in setups[shift:] + setups[:shift]:
            elapsed, hits = run_round(setup.policy, samples)
            setup.rounds.append(elapsed)
            setup.hits.add(hits)
    report(setups, len(samples))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
