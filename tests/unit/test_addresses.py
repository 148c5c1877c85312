"""The From suffix matcher of docs/features.md §5: label boundaries, case, exact addresses."""

from __future__ import annotations

import pytest

from sekisho.rules.addresses import SuffixMatcher, domain_suffixes, normalize_address


@pytest.fixture
def matcher() -> SuffixMatcher:
    return SuffixMatcher.build(["Example.com", "taro@other.jp", "@exact.jp", "xyz"])


@pytest.mark.parametrize(
    ("address", "entry"),
    [
        ("a@example.com", "Example.com"),
        ("A@EXAMPLE.COM", "Example.com"),
        ("<a@sub.example.com>", "Example.com"),
        ("a@deep.sub.example.com", "Example.com"),
        ("taro@other.jp", "taro@other.jp"),
        ("TARO@Other.JP", "taro@other.jp"),
        ("anyone@exact.jp", "@exact.jp"),
        ("spam@cheap.xyz", "xyz"),
    ],
)
def test_matches(matcher: SuffixMatcher, address: str, entry: str) -> None:
    assert matcher.match(address) == entry


@pytest.mark.parametrize(
    "address",
    [
        "a@badexample.com",  # a suffix of the string but not at a label boundary
        "a@example.com.evil.jp",
        "hanako@other.jp",  # the entry names taro only
        "jiro@sub.exact.jp",  # @exact.jp covers that domain, not its subdomains
        "",  # the null sender
        "<>",
        "example.com",  # no local part: not an address
    ],
)
def test_does_not_match(matcher: SuffixMatcher, address: str) -> None:
    assert matcher.match(address) is None


def test_normalize_address() -> None:
    assert normalize_address(" <Taro@Example.JP> ") == "taro@example.jp"


def test_lookup_cost_is_per_label_not_per_entry() -> None:
    """The matcher probes one key per label of the address, whatever the list size."""
    big = SuffixMatcher.build(f"spam{i}.example" for i in range(100_000))
    probes: list[str] = []

    class CountingDict(dict[str, str]):
        def __contains__(self, key: object) -> bool:
            probes.append(str(key))
            return super().__contains__(key)

    counted = SuffixMatcher(big.addresses, big.exact_domains, CountingDict(big.domain_trees))
    assert counted.match("a@x.y.spam99999.example") == "spam99999.example"
    assert len(probes) <= len(domain_suffixes("x.y.spam99999.example"))
    assert len(big) == 100_000


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ('<"Taro"@Example.JP>', "taro@example.jp"),  # quoted local part, as Postfix delivers it
        ("<@relay.example:taro@example.jp>", "taro@example.jp"),  # source route
        ("taro@example.jp.", "taro@example.jp"),  # the root dot
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),  # full width, as an IME types it
        ("x@例え.jp", "x@xn--r8jz45g.jp"),  # internationalised domain → its ASCII form
        ("<>", ""),
    ],
)
def test_canonical_forms(given: str, canonical: str) -> None:
    assert normalize_address(given) == canonical


def test_trailing_dot_and_idn_senders_still_match() -> None:
    matcher = SuffixMatcher.build(["bad.example", "例え.jp"])
    assert matcher.match("x@bad.example.") == "bad.example"
    assert matcher.match("x@xn--r8jz45g.jp") == "例え.jp"
    assert matcher.match("x@sub.例え.jp") == "例え.jp"
