"""SQLAlchemy 2.0 typed models. Every schema change comes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every backend.

    SQLite keeps no offset and hands back naive values; PostgreSQL hands back its session
    time zone. Both come back as UTC here, so comparisons and display never mix the two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ONLY_ON = "only_on"  # an index's info key: the one backend that has it


def only_on(dialect: str, index: Index) -> Index:
    """An index of one backend's schema: created on it alone, and compared with the
    migrated schema on it alone (tests/test_store_lists.py reads ``info[ONLY_ON]``:
    Alembic's comparison knows nothing of ``ddl_if``)."""
    index.info[ONLY_ON] = dialect
    return index.ddl_if(dialect=dialect)


class LoginSite(Base):
    """A login site of docs/features.md §1 (e.g. support.ms246.net/supw)."""

    __tablename__ = "login_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    host_name: Mapped[str | None] = mapped_column(String(253))
    url_prefix: Mapped[str] = mapped_column(String(100), default="/supw")

    domains: Mapped[list[Domain]] = relationship(back_populates="site")


class Domain(Base):
    """A mail domain, or a wildcard (``*.ms246.net``) covering every subdomain."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("login_sites.id"))
    smtp_host: Mapped[str] = mapped_column(String(253))
    pop_host: Mapped[str] = mapped_column(String(253))

    site: Mapped[LoginSite] = relationship(back_populates="domains")


class Account(Base):
    """A mailbox. ``password_hash`` carries a Dovecot scheme prefix ({ARGON2ID}…)."""

    __tablename__ = "accounts"
    # Ids are never reused (SQLite AUTOINCREMENT; PostgreSQL sequences never are), so an
    # account deleted and added again cannot match a snapshot cached for the old one.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 -- SQLAlchemy's own API

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped in the same transaction as every settings change; the milter's cached
    # policy snapshot is valid while this number is unchanged.
    settings_version: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped by a logout and a suspension: every web session carries the value it was
    # opened with and ends when this moves on (sekisho.webui.sessions).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    domain: Mapped[Domain] = relationship()


# Keys compared in code point order on every backend, so "begins with" is a range of an
# index: SQLite's default (BINARY) is; PostgreSQL's depends on the database's locale.
SEARCH_KEY = Text().with_variant(Text(collation="C"), "postgresql")


class ListEntryRecord(Base):
    """One entry of a mailbox's From reject, Subject reject or allow list, with its hits.

    ``kind`` is the list's name (sekisho.rules.lists); ``value`` is what the owner sees,
    ``match_key`` what matching compares; ``key_digest`` (sha256 of the key) makes the key
    unique per list without indexing 320-character texts. The hit counters are written
    by the milter and never bump the settings version.

    ``match_key`` and ``reversed_key`` are indexed for the list's search, which finds the
    entries whose key begins or ends with the text searched for (``taro@``,
    ``bad.example``).
    """

    __tablename__ = "list_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "key_digest"),
        Index("ix_list_entries_account_kind_id", "account_id", "kind", "id"),
        # A search is a range of one of these (sekisho.store.lists.page_of): entries whose
        # key begins with the text, and those whose key ends with it.
        Index("ix_list_entries_account_kind_key", "account_id", "kind", "match_key"),
        Index("ix_list_entries_account_kind_reversed", "account_id", "kind", "reversed_key"),
        # Ids only grow, so 「全て削除」 can remove exactly what its confirmation counted.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    match_key: Mapped[str] = mapped_column(SEARCH_KEY)
    reversed_key: Mapped[str] = mapped_column(SEARCH_KEY)  # match_key backwards
    key_digest: Mapped[str] = mapped_column(String(64))
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class HeaderRuleRecord(Base):
    """One checked box of the header reject settings; unchecking deletes the row."""

    __tablename__ = "reject_header_rules"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    header_check: Mapped[str] = mapped_column(String(20), primary_key=True)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SpamSettingRecord(Base):
    """迷惑メールスキャン設定: the three switches of docs/features.md §9; no row means all off."""

    __tablename__ = "spam_settings"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    quarantine: Mapped[bool] = mapped_column(Boolean, default=True)
    notify: Mapped[bool] = mapped_column(Boolean, default=False)


class VirusSettingRecord(Base):
    """ウィルススキャン設定 of a mailbox; no row means off."""

    __tablename__ = "virus_settings"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AbroadUnlockRecord(Base):
    """国外からのメール送信制限: lifted until ``unlocked_until``; no row means 制限中."""

    __tablename__ = "abroad_unlocks"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    unlocked_until: Mapped[datetime] = mapped_column(UtcDateTime())


class PendingUpload(Base):
    """A checked CSV upload waiting for its 「登録」: kept in the store, not in the form, so
    any web node can finish it and a large list never travels back through the browser.
    ``token_digest`` is sha256 of the token the confirmation screen posts."""

    __tablename__ = "pending_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    token_digest: Mapped[str] = mapped_column(String(64))
    entries: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class QuarantinedMessage(Base):
    """One quarantined copy in a recipient's ``.Junk`` Maildir folder.

    ``message_key`` (SHA-256 of the header fields but Received and Return-Path, and of
    the body) makes a repeated delivery attempt of the same message find its earlier copy
    instead of writing a second one.
    """

    __tablename__ = "quarantined_messages"
    __table_args__ = (UniqueConstraint("account_id", "message_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    message_key: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    rule: Mapped[str] = mapped_column(String(40))
    entry: Mapped[str] = mapped_column(Text)
    matched: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    queue_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # Set once the copy was moved into the inbox (durably): a second release does nothing.
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A mail sekisho itself sends (quarantine notices, virus reports, auto-replies).

    Written in the same transaction as the decision that calls for it; ``sekisho worker``
    sends it through Postfix's re-injection listener and sets ``sent_at`` only after the
    250. ``dedupe_key`` makes a repeated attempt of the same message add no second row.
    A worker claims a row by writing its ``claim_token`` and a lease (``claimed_until``);
    a crashed worker's rows are taken again once the lease has run out.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "sent_at", "failed_at", "not_before"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # A notice is about one copy; deleting or purging the copy takes its notice with it.
    quarantine_id: Mapped[int | None] = mapped_column(
        ForeignKey("quarantined_messages.id", ondelete="CASCADE"), index=True
    )
    envelope_to: Mapped[str] = mapped_column(String(320))
    # What the worker needs to write the mail (a virus report: virus, sender, subject,
    # date as JSON, and the original with its infected parts replaced).
    details: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    """One login, good or bad, to the web UI or through Dovecot (POP3, IMAP, SMTP AUTH):
    the owner's ログイン履歴 and the throttle.

    ``address`` is what was typed (normalized), so failures against an address that does
    not exist are counted the same way as against one that does. ``service`` is the door
    it came by (sekisho.store.audit.LoginService; 'web' for every row from before 0017).
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_address_at", "address", "at"),
        Index("ix_login_attempts_client_at", "client_address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_address: Mapped[str] = mapped_column(String(45))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    service: Mapped[str] = mapped_column(String(16), server_default="web")


class DeliveryLogEntry(Base):
    """受信ログ: what became of one mail for one mailbox, and why (sekisho.store.delivery_log).

    Written for every mail, so sized for volume: the rows of the last days of every
    mailbox (millions), read one mailbox at a time, newest first, through one index.
    """

    __tablename__ = "delivery_log"
    # A mailbox's rows newest first, with what its search reads (migration 0018): a search
    # (ILIKE '%…%', no B-tree seeks it) reads the mailbox's range of the index, not each of
    # its rows, scattered through the table (bench/README.md). SQLite has no INCLUDE; the
    # texts as trailing keys are the same index there, since (account_id, at, id) is unique.
    __table_args__ = (
        only_on(
            "sqlite",
            Index(
                "ix_delivery_log_account_at_sender_subject",
                "account_id",
                "at",
                "id",
                "sender",
                "subject",
            ),
        ),
        only_on(
            "postgresql",
            Index(
                "ix_delivery_log_account_at_incl_sender_subject",
                "account_id",
                "at",
                "id",
                postgresql_include=["sender", "subject"],
            ),
        ),
    )

    # BIGINT: ids only grow, and an ISP writes millions of rows a day.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sender: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(40), default="")
    entry: Mapped[str] = mapped_column(Text, default="")
    matched: Mapped[str] = mapped_column(Text, default="")
    forwarded_to: Mapped[str] = mapped_column(Text, default="")
    auto_replied: Mapped[bool] = mapped_column(Boolean, default=False)
    message_key: Mapped[str] = mapped_column(String(64), default="")
    queue_id: Mapped[str] = mapped_column(String(32), default="")


class SettingsChange(Base):
    """One change of a mailbox's settings (変更履歴): which screen or tool, when, from where,
    and what it did (``detail``, sekisho.store.audit.ChangeDetail as JSON; NULL in rows
    from before 0016)."""

    __tablename__ = "settings_changes"
    __table_args__ = (Index("ix_settings_changes_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    area: Mapped[str] = mapped_column(String(40))
    client_address: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)


class ForwardingTarget(Base):
    """転送設定: one forwarding address of a mailbox and its 残す/残さない."""

    __tablename__ = "forwarding_targets"
    __table_args__ = (
        UniqueConstraint("account_id", "address"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(320))
    keep: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AutoReplySettingRecord(Base):
    """自動返信設定 of a mailbox (its per-sender texts are AutoReplySenderText); no row: off."""

    __tablename__ = "auto_reply_settings"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)


class AutoReplySenderText(Base):
    """A per-sender reply text: senders ``pattern`` covers (a From-list entry) get it."""

    __tablename__ = "auto_reply_sender_texts"
    __table_args__ = (
        UniqueConstraint("account_id", "pattern_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    pattern: Mapped[str] = mapped_column(String(320))
    pattern_key: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text)


class AutoReplySender(Base):
    """A sender a mailbox replied to (``replied_at``, written after Postfix's 250), or is
    replying to right now (``sending_until``, a worker's lease): one reply per 24 hours."""

    __tablename__ = "auto_reply_senders"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    sender: Mapped[str] = mapped_column(String(320), primary_key=True)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sending_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OperatorAction(Base):
    """One operator action, from the CLI or the API: who (``cli:root``, ``api:crm``), what,
    on which account or domain, when. Not tied to the account row: the record of a
    deletion outlives the account."""

    __tablename__ = "operator_actions"
    __table_args__ = (
        Index("ix_operator_actions_at", "at"),
        Index("ix_operator_actions_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(320), default="")
    details: Mapped[str] = mapped_column(Text, default="")


class ApiToken(Base):
    """An operator's bearer token for /api/v1/: only sha256 of it is kept. ``domains`` is the
    space-separated domain names it may act on; empty: every domain."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    domains: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
