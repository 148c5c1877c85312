"""Sites, domains and accounts: the queries the CLI and the web UI share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from sekisho.rules.addresses import domain_suffixes, normalize_address, split_address
from sekisho.store.audit import record_change
from sekisho.store.models import (
    Account,
    Domain,
    LoginSite,
    OutboxMessage,
    QuarantinedMessage,
    utcnow,
)
from sekisho.store.paging import Page, containing, page_of_rows
from sekisho.store.passwords import (
    DECOY_HASH,
    SCHEMES,
    STRONG,
    hash_password,
    is_weak,
    scheme_of,
    temporary_password,
    verify_password,
)


class AccountError(ValueError):
    """An operator or user action that the store refuses, with the reason."""


@dataclass(frozen=True)
class NewAccount:
    address: str
    password: str
    temporary: bool


def add_domain(
    session: Session,
    name: str,
    site_name: str,
    smtp_host: str,
    pop_host: str,
    url_prefix: str = "/supw",
    site_host: str | None = None,
) -> Domain:
    name = name.strip().lower()
    if session.scalar(select(Domain).where(Domain.name == name)):
        raise AccountError(f"domain {name} exists already")
    site = session.scalar(select(LoginSite).where(LoginSite.name == site_name))
    if site is None:
        site = LoginSite(name=site_name, url_prefix=url_prefix, host_name=site_host)
        session.add(site)
    domain = Domain(name=name, site=site, smtp_host=smtp_host, pop_host=pop_host)
    session.add(domain)
    session.flush()
    return domain


def serving_names(domain_name: str) -> list[str]:
    """The domain rows' names that may serve ``domain_name``, the one that wins first: the
    exact name, then ``*.parent`` wildcards from the most specific (the longest) up."""
    return [domain_name] + ["*." + suffix for suffix in domain_suffixes(domain_name)[1:]]


def domain_for(session: Session, address: str) -> Domain | None:
    """The domain row that serves ``address`` (see serving_names)."""
    _, domain_name = split_address(normalize_address(address))
    if not domain_name:
        return None
    names = serving_names(domain_name)
    found = {d.name: d for d in session.scalars(select(Domain).where(Domain.name.in_(names)))}
    return next((found[name] for name in names if name in found), None)


def add_account(session: Session, address: str, password: str | None = None) -> NewAccount:
    address = normalize_address(address)
    local, domain_name = split_address(address)
    if not local or not domain_name:
        raise AccountError(f"{address!r} is not a mail address")
    domain = domain_for(session, address)
    if domain is None:
        raise AccountError(f"no domain serves {address}; add it with 'sekisho domain add'")
    if find_account(session, address) is not None:
        raise AccountError(f"account {address} exists already")
    temporary = password is None
    secret = temporary_password() if password is None else password
    session.add(
        Account(
            address=address,
            domain=domain,
            password_hash=hash_password(secret),
            status="active",
            must_change_password=temporary,
            settings_version=1,
        )
    )
    session.flush()
    return NewAccount(address, secret, temporary)


def find_account(session: Session, address: str) -> Account | None:
    return session.scalar(select(Account).where(Account.address == normalize_address(address)))


def require_account(session: Session, address: str) -> Account:
    account = find_account(session, address)
    if account is None:
        raise AccountError(f"no account {normalize_address(address)}")
    return account


def set_status(session: Session, address: str, status: str) -> None:
    """Suspend or resume; a suspension ends the account's web sessions at once, and
    they stay ended after a resume."""
    account = require_account(session, address)
    account.status = status
    end_sessions(session, account.id)


def end_sessions(session: Session, account_id: int) -> None:
    """Every web session of the account stops being accepted (sekisho.webui.sessions)."""
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(session_epoch=Account.session_epoch + 1)
    )


def authenticate(session: Session, address: str, password: str) -> Account | None:
    """The active account whose password matches, else None (the caller says nothing more).

    Unknown and suspended addresses cost one hash verification too, so response time
    does not tell which addresses exist.
    """
    account = find_account(session, address)
    stored = account.password_hash if account is not None else DECOY_HASH
    matches = verify_password(stored, password)
    if is_weak(stored):
        # An imported hash ({SSHA}, {PLAIN-MD5}…) answers in microseconds: the decoy's
        # Argon2 makes its answer as slow as an unknown address's.
        verify_password(DECOY_HASH, password)
    if account is None or account.status != "active":
        return None
    return account if matches else None


def upgrade_password_hash(account: Account, password: str) -> bool:
    """After a good web login: a hash in an older scheme is replaced by an ARGON2ID one of
    the same password, so POP and SMTP AUTH go on with it. True when it was replaced."""
    if not is_weak(account.password_hash):
        return False
    account.password_hash = hash_password(password)
    return True


def weak_password_counts(session: Session) -> dict[str, int]:
    """How many accounts carry each scheme but ARGON2ID ("" for an unknown scheme)."""
    scheme = case(
        *[
            (Account.password_hash.startswith("{" + name + "}", autoescape=True), name)
            for name in SCHEMES
        ],
        else_="",
    )
    rows = session.execute(select(scheme, func.count()).group_by(scheme)).all()
    return {str(name): int(count) for name, count in rows if name != STRONG}


def set_password(session: Session, account_id: int, password: str) -> None:
    """The new POP password (checked by sekisho.rules.passwords before); Dovecot's passdb
    reads the same column, so the POP login changes with it. A temporary one is gone."""
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(password_hash=hash_password(password), must_change_password=False)
    )


def reissue_temporary_password(session: Session, address: str) -> str:
    """A new temporary password for a customer who lost theirs (the operator hands it
    over as with a new account): the old one stops working for the web UI and POP at
    once, the next login goes to the password change first, and 変更履歴 shows it."""
    account = require_account(session, address)
    secret = temporary_password()
    account.password_hash = hash_password(secret)
    account.must_change_password = True
    record_change(session, account.id, "password_reset", "operator", utcnow())
    return secret


def bump_settings_version(session: Session, account_id: int) -> None:
    """Invalidate the milters' cached snapshot; called in the transaction of every change."""
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(settings_version=Account.settings_version + 1)
    )


def account_page(
    session: Session,
    number: int = 1,
    domain: str | None = None,
    query: str | None = None,
    within: frozenset[str] = frozenset(),
) -> Page[Account]:
    """Accounts by address: of one domain row's name, containing ``query``, limited to the
    domain names ``within`` (an API token's; empty: all)."""
    statement = select(Account).join(Account.domain).order_by(Account.address)
    if domain:
        statement = statement.where(Domain.name == domain.strip().lower())
    if query:
        statement = statement.where(Account.address.like(containing(query.lower()), escape="\\"))
    if within:
        statement = statement.where(Domain.name.in_(within))
    return page_of_rows(session, statement, number)


def account_facts(account: Account) -> dict[str, object]:
    """What ``account show`` and the API tell of an account (never the hash itself)."""
    return {
        "address": account.address,
        "domain": account.domain.name,
        "status": account.status,
        "password_scheme": scheme_of(account.password_hash),
        "must_change_password": account.must_change_password,
        "created_at": account.created_at.isoformat(),
    }


def delete_account(session: Session, address: str) -> Account:
    """The account and everything of it in the store: settings, lists, quarantine rows,
    outbox rows, login history (the foreign keys cascade; the outbox and quarantine are
    deleted here by name, as they hold mail). The Maildir is the caller's to keep or remove."""
    account = require_account(session, address)
    session.execute(delete(OutboxMessage).where(OutboxMessage.account_id == account.id))
    session.execute(delete(QuarantinedMessage).where(QuarantinedMessage.account_id == account.id))
    session.delete(account)
    session.flush()
    return account


@dataclass(frozen=True)
class DomainSummary:
    name: str
    site: str
    smtp_host: str
    pop_host: str
    accounts: int


def domain_summaries(session: Session, name: str | None = None) -> list[DomainSummary]:
    """Every domain (or the one named) with its site and how many accounts it serves."""
    counts = (
        select(Account.domain_id, func.count(Account.id).label("accounts"))
        .group_by(Account.domain_id)
        .subquery()
    )
    statement = (
        select(Domain, func.coalesce(counts.c.accounts, 0))
        .outerjoin(counts, counts.c.domain_id == Domain.id)
        .order_by(Domain.name)
    )
    if name is not None:
        statement = statement.where(Domain.name == name.strip().lower())
    return [
        DomainSummary(d.name, d.site.name, d.smtp_host, d.pop_host, int(count))
        for d, count in session.execute(statement)
    ]


def remove_domain(session: Session, name: str) -> None:
    """Refused while the domain serves accounts: they would lose their domain's hosts and
    login site."""
    found = domain_summaries(session, name)
    if not found:
        raise AccountError(f"no domain {name.strip().lower()}")
    if found[0].accounts:
        raise AccountError(
            f"domain {found[0].name} still has {found[0].accounts} accounts: "
            "delete them first ('account list --domain')"
        )
    session.execute(delete(Domain).where(Domain.name == found[0].name))
