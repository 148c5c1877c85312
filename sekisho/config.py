"""Layered configuration: documented defaults → TOML file → SEKISHO_* environment → flags.

Read once into one typed, frozen object and passed down; nothing else reads the
environment or the file.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


class SpamOnFailure(StrEnum):
    """What becomes of mail when the spam engine is down or times out."""

    # The sender retries; nothing passes unscanned.
    TEMPFAIL = "tempfail"
    # Mail to recipients with the scan on goes through unscanned, logged.
    DELIVER = "deliver"


@dataclass(frozen=True)
class Settings:
    # Store and files
    database_url: str = "sqlite:///var/sekisho.db"
    mail_root: Path = Path("var/mail")
    # "uid:gid" the Maildir folders and quarantine copies the milter creates belong to
    # (the delivery agent's user, e.g. Postfix virtual_uid_maps); empty: the milter's own.
    mailbox_owner: str = ""
    # How long a quarantined copy is kept before `sekisho purge` deletes it (docs/features.md §11).
    quarantine_days: int = 7
    # How long 受信ログ keeps what became of each mail.
    delivery_log_days: int = 7
    # 受信許可設定 applies only to a sender the spam engine found authenticated (DMARC, or
    # DKIM or SPF aligned with the From domain). When it could check nothing (no answer,
    # no DNS): true lets the allow list apply as before, false treats the sender as forged.
    allow_list_trusts_unchecked: bool = True
    # Milter
    milter_listen: str = "unix:var/run/sekisho-milter.sock"
    milter_socket_group: str = "postfix"
    milter_timeout: int = 60
    # A cached policy snapshot is trusted this long before its version is checked again:
    # the delay between a settings change and the milter applying it.
    policy_refresh_seconds: float = 1.0
    spool_memory_bytes: int = 1024 * 1024
    # Web UI
    web_listen: str = "127.0.0.1:8080"
    secret_key: str = ""
    session_cookie_secure: bool = False
    # A web session ends after this many minutes without a request (idle timeout) and,
    # however busy, this many hours after its login (absolute lifetime): a cookie copied
    # from a shared or stolen browser does not stay useful for ever.
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    # How many reverse proxies (nginx …) stand before the web UI; their X-Forwarded-For
    # gives the client address the login history and the login throttle use.
    web_proxies: int = 0
    # The peers whose X-Forwarded-* headers are believed (addresses or networks, separated
    # by commas or spaces); the same headers from any other peer are ignored and logged.
    web_proxy_addresses: str = "127.0.0.1, ::1"
    # A CSV list upload larger than either is refused before it is read: a 300,000-line
    # file once kept a web worker busy for 24 seconds.
    upload_max_bytes: int = 2 * 1024 * 1024
    upload_max_lines: int = 20_000
    # The REST API for an ISP's customer system (/api/v1/, operator bearer tokens from
    # `sekisho token create`): off unless set; calls per token and minute, per web process.
    api_enabled: bool = False
    api_calls_per_minute: int = 600
    # Scanners, outbox, GeoIP.
    # clamd's address (tcp://host:port or unix:/path); its StreamMaxLength must be at
    # least Postfix's message_size_limit, or large mail is deferred (never passed unscanned).
    clamd: str = "tcp://127.0.0.1:3310"
    # Seconds a virus scan may take; longer counts as clamd being down (451 4.7.1).
    clamd_timeout: float = 60.0
    spam_engine: str = "rspamd://127.0.0.1:11333"
    # Seconds a spam scan may take; a timeout counts as the engine being down.
    spam_timeout: float = 30.0
    # Engine down or timing out: "tempfail" or "deliver" (SpamOnFailure).
    spam_on_failure: SpamOnFailure = SpamOnFailure.TEMPFAIL
    reinject_smtp: str = "127.0.0.1:10026"
    # postsrsd's forward lookup (host:port, Debian's default 127.0.0.1:10001): forwarded
    # copies leave with an SRS envelope sender; empty: with the original sender's, which
    # the next hop's SPF check may refuse. Postfix needs deploy/postfix/main-srs.cf too.
    srs_lookup: str = ""
    # Envelope sender of auto-replies: "null" (RFC 3834 §3.3: no bounce, no reply to the
    # reply) or "mailbox" (the replying address) for receivers that refuse null senders.
    auto_reply_sender: str = "null"
    # 隔離メール通知: 0 sends one notice per quarantined copy at once; N > 0 collects a
    # mailbox's copies and sends one digest every N minutes (at most 24 mails a day at 60).
    notice_digest_minutes: int = 60
    # From of the notices; empty: "Mail filter" <postmaster@the mailbox's domain>.
    notice_from: str = ""
    # The web UI as the owners reach it (the notices' release links); empty: http://web_listen
    web_url: str = ""
    # How often an idle worker looks for due outbox rows.
    worker_poll_seconds: float = 1.0
    # 国外からのメール送信制限: an operator's MaxMind/DB-IP country .mmdb (empty: the
    # offline registry table of the iptocc package), the home country, and whether
    # loopback/private client addresses count as domestic.
    geoip_db: str = ""
    home_country: str = "JP"
    local_networks_are_domestic: bool = True
    # Prometheus /metrics (host:port) of the milter and of the worker; empty: off.
    milter_metrics_listen: str = ""
    worker_metrics_listen: str = ""
    # `sekisho policy`: Dovecot's auth policy server (host:port of auth_policy_server_url),
    # so the web login's lockout also holds for POP3, IMAP and SMTP AUTH.
    policy_listen: str = "127.0.0.1:8895"
    # When set, every policy request must carry it as X-API-Key (Dovecot's
    # auth_policy_server_api_header). Needed once the listener is reachable from other
    # hosts: a forged report could count failures against any mailbox, or clear them.
    policy_api_key: str = ""
    # Hostile mail: caps on what the milter reads of one message.
    # A larger message (header fields and body) is refused with 552 5.3.4 at the end of
    # its data, spooled no further and never scanned. Keep it equal to Postfix's
    # message_size_limit (deploy/postfix/main.cf), which refuses it first, and clamd's
    # StreamMaxLength at or above it.
    message_size_limit: int = 25 * 1024 * 1024
    # clamd stops looking past 17 nested parts (MaxRecursion) or 10,000 files (MaxFiles)
    # and answers "clean". A message nested deeper, or with more leaf parts, than these is
    # not taken for clean: it counts as infected ("Sekisho.Limits.Exceeded.MimeDepth" or
    # ".MimeParts"), so the mailboxes with the virus scan on lose it and get a report
    # that carries its header fields only.
    mime_max_depth: int = 16
    mime_max_parts: int = 1000
    # An infected message is split so its report keeps the clean parts: one clamd request
    # per leaf part, and Python's parser holds the message several times over. With more
    # leaf parts or bytes than these it is not split: the report carries the header
    # fields only (the mail itself is removed either way).
    disinfect_max_parts: int = 100
    disinfect_max_bytes: int = 10 * 1024 * 1024
    log_level: str = "INFO"

    @property
    def public_web_url(self) -> str:
        return (self.web_url or f"http://{self.web_listen}").rstrip("/")

    @property
    def web_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        parts = re.split(r"[,\s]+", self.web_proxy_addresses.strip())
        return tuple(ip_network(part, strict=False) for part in parts if part)

    @property
    def mailbox_uid_gid(self) -> tuple[int, int] | None:
        if not self.mailbox_owner:
            return None
        uid, _, gid = self.mailbox_owner.partition(":")
        return int(uid), int(gid or uid)


_AT_LEAST_ONE = (
    "api_calls_per_minute",
    "session_idle_minutes",
    "session_absolute_hours",
    "upload_max_bytes",
    "upload_max_lines",
    "message_size_limit",
    "mime_max_depth",
    "mime_max_parts",
    "disinfect_max_parts",
    "disinfect_max_bytes",
)

_BOOLEAN_WORDS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


_CHOICES: dict[str, type[StrEnum]] = {"SpamOnFailure": SpamOnFailure}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if str(kind) in _CHOICES:
        return _choice(name, _CHOICES[str(kind)], value)
    target = {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}[str(kind)]
    if isinstance(value, target) and not (target is int and isinstance(value, bool)):
        return value
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected {target.__name__}, got {value!r}")
    if target is bool:
        lowered = value.strip().lower()
        if lowered not in _BOOLEAN_WORDS:
            raise ConfigError(f"{name}: {value!r} is not a valid bool")
        return _BOOLEAN_WORDS[lowered]
    try:
        return target(value)
    except ValueError as error:
        raise ConfigError(f"{name}: {value!r} is not a valid {target.__name__}") from error


def _choice(name: str, choices: type[StrEnum], value: Any) -> StrEnum:
    try:
        return choices(value)
    except ValueError:
        allowed = " or ".join(f'"{choice}"' for choice in choices)
        raise ConfigError(f"{name}: {value!r} is not allowed; use {allowed}") from None


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the four layers; unknown keys in the file are an error, not a silent typo."""
    environ = os.environ if environ is None else environ
    known = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file or environ.get("SEKISHO_CONFIG")
    if path:
        try:
            with open(path, "rb") as handle:
                document = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read configuration file {path}: {error}") from error
        unknown = sorted(set(document) - set(known))
        if unknown:
            raise ConfigError(f"{path}: unknown keys {', '.join(unknown)}")
        values.update(document)
    for name in known:
        env_value = environ.get(f"SEKISHO_{name.upper()}")
        if env_value is not None:
            values[name] = env_value
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings(**{k: _coerce(k, known[k], v) for k, v in values.items()})
    if settings.auto_reply_sender not in {"null", "mailbox"}:
        raise ConfigError(f"auto_reply_sender: {settings.auto_reply_sender!r} is not null|mailbox")
    try:
        settings.web_proxy_networks  # noqa: B018 -- parsed here to refuse a typo at start
    except ValueError as error:
        raise ConfigError(f"web_proxy_addresses: {error}") from None
    for name in _AT_LEAST_ONE:
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name}: must be at least 1")
    if settings.mailbox_owner and not re.fullmatch(r"\d+(:\d+)?", settings.mailbox_owner):
        raise ConfigError(f"mailbox_owner: {settings.mailbox_owner!r} is not uid:gid (numbers)")
    return settings


def local_secret_key(settings: Settings) -> str:
    """The configured key, or one kept beside a SQLite store (created once, race-free).

    Several web nodes share one database and must share the key: with any other store
    the key must be configured.
    """
    if settings.secret_key:
        return settings.secret_key
    if not settings.database_url.startswith("sqlite:///"):
        raise ConfigError("secret_key must be set when the store is not a local SQLite file")
    path = Path(settings.database_url.removeprefix("sqlite:///")).parent / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()
