"""Sites, domains and accounts: the queries the CLI and the web UI share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from sekisho.rules.addresses import domain_suffixes, normalize_address, split_address
from sekisho.store.audit import record_change
from sekisho.store.models import Account, Domain, LoginSite, utcnow
from sekisho.store.passwords import (
    DECOY_HASH,
    SCHEMES,
    STRONG,
    hash_password,
    is_weak,
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
