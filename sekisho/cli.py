"""The ``sekisho`` command (DESIGN.md contract: subcommands, exit codes, JSON documents)."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sekisho.config import ConfigError, Settings, load_settings
from sekisho.logsetup import configure_logging
from sekisho.store import account_import as account_import_store
from sekisho.store import accounts, audit, operators, settings_doc
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade
from sekisho.store.models import LoginAttempt, utcnow


class Context:
    def __init__(self, config: str | None, overrides: dict[str, Any]) -> None:
        self._config = config
        self._overrides = overrides
        self._settings: Settings | None = None
        self._store: Store | None = None

    def settings(self, **more: Any) -> Settings:
        if self._settings is None or more:
            try:
                self._settings = load_settings(self._config, overrides={**self._overrides, **more})
            except ConfigError as error:
                raise click.ClickException(str(error)) from error
        return self._settings

    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings().database_url)
            click.get_current_context().call_on_close(self._store.dispose)
        return self._store


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    envvar="SEKISHO_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML configuration file.",
)
@click.option("--database-url", help="SQLAlchemy URL of the store.")
@click.option("--mail-root", type=click.Path(file_okay=False), help="Root of the Maildirs.")
@click.pass_context
def main(
    ctx: click.Context, config: str | None, database_url: str | None, mail_root: str | None
) -> None:
    """sekisho: per-recipient mail filtering for ISP mailboxes."""
    ctx.obj = Context(config, {"database_url": database_url, "mail_root": mail_root})


@main.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Create or migrate the schema to the newest revision."""
    upgrade(context.settings().database_url)
    click.echo("database is at the newest revision")


@main.group()
def domain() -> None:
    """Mail domains and their login sites."""


@domain.command("add")
@click.argument("name")
@click.option("--site", required=True, help="Login site name (created when new).")
@click.option("--smtp-host", required=True, help="SMTP server name shown to users.")
@click.option("--pop-host", required=True, help="POP server name shown to users.")
@click.option("--url-prefix", default="/supw", show_default=True, help="Site URL prefix.")
@click.option(
    "--site-host",
    help="Host name of a new login site (support.example.jp): sites sharing a URL prefix "
    "are told apart by it, and its quarantine notices link there.",
)
@pass_context
def domain_add(
    context: Context,
    name: str,
    site: str,
    smtp_host: str,
    pop_host: str,
    url_prefix: str,
    site_host: str | None,
) -> None:
    """Add a domain (``*.example.jp`` covers every subdomain)."""
    with _refusals(), context.store().transaction() as session:
        added = accounts.add_domain(session, name, site, smtp_host, pop_host, url_prefix, site_host)
        operators.record_action(session, _actor(), "domain.add", added.name)
    click.echo(f"domain {name.lower()} added to site {site}")


@domain.command("list")
@pass_context
def domain_list(context: Context) -> None:
    """Every domain with its login site and its number of accounts, as JSON lines."""
    with context.store().read() as session:
        found = accounts.domain_summaries(session)
    for summary in found:
        click.echo(json.dumps(asdict(summary), ensure_ascii=False))


@domain.command("show")
@click.argument("name")
@pass_context
def domain_show(context: Context, name: str) -> None:
    """One domain as JSON: site, SMTP and POP host names, number of accounts."""
    with context.store().read() as session:
        found = accounts.domain_summaries(session, name)
    if not found:
        raise click.ClickException(f"no domain {name.lower()}")
    click.echo(json.dumps(asdict(found[0]), ensure_ascii=False, indent=2))


@domain.command("remove")
@click.argument("name")
@pass_context
def domain_remove(context: Context, name: str) -> None:
    """Remove a domain that serves no account any more."""
    with _refusals(), context.store().transaction() as session:
        accounts.remove_domain(session, name)
        operators.record_action(session, _actor(), "domain.remove", name.lower())
    click.echo(f"domain {name.lower()} removed")


@main.group()
def account() -> None:
    """Mailbox accounts."""


@account.command("add")
@click.argument("address")
@click.option("--password", help="Initial password; without it a temporary one is printed.")
@pass_context
def account_add(context: Context, address: str, password: str | None) -> None:
    """Add an account. Without --password the user must change the printed one at login."""
    with _refusals(), context.store().transaction() as session:
        created = accounts.add_account(session, address, password)
        operators.record_action(session, _actor(), "account.add", created.address)
    if created.temporary:
        click.echo(f"account {created.address} added; temporary password: {created.password}")
    else:
        click.echo(f"account {created.address} added")


@account.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_kind",
    type=click.Choice(["csv", "jsonl"]),
    help="The file's format; without it, told by its extension (.csv, .jsonl).",
)
@click.option("--dry-run", is_flag=True, help="Check every line and write nothing.")
@pass_context
def account_import(context: Context, file: Path, file_kind: str | None, dry_run: bool) -> None:
    """Add the accounts of FILE (fields address, password_hash or password, status,
    settings), all or nothing: every problem is printed with its line. Hashes import fast;
    a password in clear costs an Argon2 hash each (about 0.3 s)."""
    with _refusals():
        chosen = account_import_store.file_format(file, file_kind)
        store = context.store()
        # A dry run works in a transaction that is never committed.
        opened = store.read() if dry_run else store.transaction()
        with file.open(encoding="utf-8-sig", newline="") as source, opened as session:
            records = account_import_store.read_records(source, chosen)
            summary = account_import_store.import_accounts(
                session, records, hash_passwords=not dry_run
            )
            operators.record_action(
                session, _actor(), "account.import", file.name, f"{summary.accounts} accounts"
            )
    done = "would be imported (dry run, nothing written)" if dry_run else "imported"
    click.echo(
        f"{summary.accounts} accounts {done}: {summary.hashed_here} with a password in clear, "
        f"{summary.with_settings} with settings"
    )


@account.command("reset-password")
@click.argument("address")
@pass_context
def account_reset_password(context: Context, address: str) -> None:
    """Replace a lost password with a printed temporary one, changed at the next login."""
    with _refusals(), context.store().transaction() as session:
        secret = accounts.reissue_temporary_password(session, address)
        operators.record_action(session, _actor(), "account.reset_password", address.lower())
    click.echo(f"account {address.lower()}: new temporary password: {secret}")


@account.command("suspend")
@click.argument("address")
@pass_context
def account_suspend(context: Context, address: str) -> None:
    """Suspend an account: it can no longer log in to the web UI."""
    with _refusals(), context.store().transaction() as session:
        accounts.set_status(session, address, "suspended")
        operators.record_action(session, _actor(), "account.suspend", address.lower())
    click.echo(f"account {address.lower()} suspended")


@account.command("resume")
@click.argument("address")
@pass_context
def account_resume(context: Context, address: str) -> None:
    """Make a suspended account usable again."""
    with _refusals(), context.store().transaction() as session:
        accounts.set_status(session, address, "active")
        operators.record_action(session, _actor(), "account.resume", address.lower())
    click.echo(f"account {address.lower()} resumed")


@account.command("unlock")
@click.argument("address")
@pass_context
def account_unlock(context: Context, address: str) -> None:
    """Clear the login lockout of an account (web, POP3, IMAP, SMTP AUTH alike)."""
    with _refusals(), context.store().transaction() as session:
        found = accounts.require_account(session, address)
        cleared = audit.unlock(session, found, utcnow())
        said = _unlocked(found.address, cleared)
        operators.record_action(session, _actor(), "account.unlock", found.address, said)
    click.echo(said)


def _unlocked(address: str, cleared: audit.Unlocked) -> str:
    if not cleared.failures:
        return f"account {address} was not locked: no failed logins to clear"
    failures = f"{cleared.failures} failed login{'s' if cleared.failures > 1 else ''}"
    if cleared.locked_until is None:
        return f"account {address} was not locked; {failures} no longer count"
    until = cleared.locked_until.isoformat(timespec="seconds")
    return f"account {address} unlocked (it was locked until {until}); {failures} no longer count"


@account.command("list")
@click.option("--domain", "domain_name", help="Only the accounts of this domain.")
@click.option("--query", help="Only addresses containing this text.")
@click.option("--page", default=1, show_default=True, help="Page number (50 a page).")
@pass_context
def account_list(context: Context, domain_name: str | None, query: str | None, page: int) -> None:
    """Accounts by address, 50 a page: address, status, created (tab-separated)."""
    with context.store().read() as session:
        found = accounts.account_page(session, page, domain_name, query)
    for entry in found.entries:
        click.echo(f"{entry.address}\t{entry.status}\t{entry.created_at.isoformat()}")
    click.echo(f"page {found.number} of {found.pages}, {found.total} accounts", err=True)


@account.command("show")
@click.argument("address")
@pass_context
def account_show(context: Context, address: str) -> None:
    """One account as JSON: domain, status, password scheme, created."""
    with _refusals(), context.store().read() as session:
        found = accounts.require_account(session, address)
        shown = accounts.account_facts(found)
    click.echo(json.dumps(shown, ensure_ascii=False, indent=2))


@account.command("delete")
@click.argument("address")
@click.option("--remove-maildir", is_flag=True, help="Remove its Maildir too (kept without this).")
@pass_context
def account_delete(context: Context, address: str, remove_maildir: bool) -> None:
    """Delete an account: its settings, lists, quarantine and outbox rows, history."""
    from sekisho.maildir import remove_mailbox

    with _refusals(), context.store().transaction() as session:
        deleted = accounts.delete_account(session, address).address
        kept = "Maildir removed" if remove_maildir else "Maildir kept"
        operators.record_action(session, _actor(), "account.delete", deleted, kept)
    if remove_maildir:
        folder = remove_mailbox(context.settings().mail_root, deleted)
        click.echo(f"account {deleted} deleted, its Maildir {folder} removed")
    else:
        click.echo(f"account {deleted} deleted; its Maildir is kept")


@main.group()
def settings() -> None:
    """A mailbox's filter settings as a JSON document."""


@settings.command("export")
@click.argument("address")
@pass_context
def settings_export(context: Context, address: str) -> None:
    """Print the settings document of ADDRESS to stdout."""
    with _refusals(), context.store().read() as session:
        document = settings_doc.export_settings(session, address)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@settings.command("import")
@click.argument("address")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@pass_context
def settings_import(context: Context, address: str, source: Any) -> None:
    """Replace the settings given in SOURCE (a file or -); all or nothing."""
    try:
        document = json.load(source)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{source.name}: not JSON: {error}") from error
    with _refusals(), context.store().transaction() as session:
        settings_doc.import_settings(session, address, document)
        operators.record_action(session, _actor(), "settings.import", address.lower())
    click.echo(f"settings of {address.lower()} imported")


@main.group()
def token() -> None:
    """Operators' bearer tokens for the REST API (/api/v1/)."""


@token.command("create")
@click.option("--name", required=True, help="Who uses it (the audit log names it).")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    help="A domain it may act on (repeat for more); without any: every domain.",
)
@pass_context
def token_create(context: Context, name: str, domains: tuple[str, ...]) -> None:
    """Create a token and print it, once: only its digest is kept."""
    with _refusals(), context.store().transaction() as session:
        secret = operators.create_token(session, name, list(domains))
        operators.record_action(session, _actor(), "token.create", name, " ".join(domains))
    click.echo(secret)


@token.command("revoke")
@click.argument("name")
@pass_context
def token_revoke(context: Context, name: str) -> None:
    """The token stops working at once."""
    with _refusals(), context.store().transaction() as session:
        operators.revoke_token(session, name)
        operators.record_action(session, _actor(), "token.revoke", name)
    click.echo(f"token {name} revoked")


@main.command("audit")
@pass_context
def audit_log(context: Context) -> None:
    """The latest operator actions (CLI and API), newest first, as JSON lines."""
    with context.store().read() as session:
        found = operators.latest_actions(session)
    for action in found:
        shown = {
            "at": action.at.isoformat(),
            "actor": action.actor,
            "action": action.action,
            "target": action.target,
            "details": action.details,
        }
        click.echo(json.dumps(shown, ensure_ascii=False))


@main.command()
@click.argument("address")
@pass_context
def history(context: Context, address: str) -> None:
    """A mailbox's latest logins and settings changes (the audit log), as JSON lines; a
    change carries its detail (what was added, removed or set), null when it predates them."""
    with _refusals(), context.store().read() as session:
        account = accounts.require_account(session, address)
        events: list[tuple[datetime, dict[str, object]]] = [
            (
                attempt.at,
                {
                    "at": attempt.at.isoformat(),
                    "event": _login_event(attempt),
                    "service": attempt.service,
                    "client": attempt.client_address,
                },
            )
            for attempt in audit.history(session, account.id)
        ]
        for change in audit.changes(session, account.id):
            detail = audit.detail_of(change)
            shown: dict[str, object] = {
                "at": change.at.isoformat(),
                "event": "change",
                "area": change.area,
                "client": change.client_address,
                "detail": detail.to_dict() if detail else None,
            }
            events.append((change.at, shown))
    for _, event in sorted(events, key=lambda item: item[0], reverse=True):
        click.echo(json.dumps(event, ensure_ascii=False))


def _login_event(attempt: LoginAttempt) -> str:
    if attempt.service == audit.LoginService.OPERATOR:
        return "unlock"  # sekisho account unlock, not a login
    return "login" if attempt.succeeded else "login_failed"


@main.command()
@click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z"]),
    help="Purge as if it were this time (ISO 8601 with offset), for checks and tests.",
)
@pass_context
def purge(context: Context, now: datetime | None) -> None:
    """Delete quarantined copies whose time is up (quarantine_days after they came), and
    the rows kept for a while: outbox, login attempts, auto-reply records, 受信ログ."""
    from sekisho.maildir import Ownership
    from sekisho.quarantine_folder import QuarantineFolder
    from sekisho.store.models import utcnow
    from sekisho.worker import purge_expired

    current = context.settings()
    folder = QuarantineFolder(
        context.store(), current.mail_root.absolute(), Ownership(current.mailbox_uid_gid)
    )
    purged, forgotten = purge_expired(
        folder, context.store(), now or utcnow(), current.delivery_log_days
    )
    click.echo(f"purged {purged} quarantined copies")
    click.echo(
        f"deleted {forgotten} rows past their keeping time"
        " (outbox, login attempts, auto-reply records, delivery log)"
    )


@main.command()
@pass_context
def check(context: Context) -> None:
    """Read the configuration and reach every dependency; non-zero exit if any fails."""
    from sekisho.check import run_checks

    outcomes = run_checks(context.settings())
    for outcome in outcomes:
        click.echo(outcome.line())
    failed = [outcome.name for outcome in outcomes if not outcome.ok]
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(outcomes)} checks failed: {', '.join(failed)}"
        )


@main.command()
@pass_context
def worker(context: Context) -> None:
    """Send the outbox (quarantine notices) and purge expired copies, until stopped."""
    import signal
    import threading

    from sekisho.worker import Worker

    current = context.settings()
    configure_logging(current)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    Worker(current, context.store()).run(stop)


@main.command()
@click.option("--listen", help="unix:/path or inet:host:port (Postfix syntax).")
@pass_context
def milter(context: Context, listen: str | None) -> None:
    """Run the milter that Postfix's smtpd_milters points at."""
    from sekisho.milter.server import serve

    current = context.settings(milter_listen=listen)
    configure_logging(current)
    serve(current)


@main.command()
@click.option("--listen", help="host:port for the web UI.")
@pass_context
def web(context: Context, listen: str | None) -> None:
    """Run the web UI (development server; production runs it under gunicorn)."""
    from sekisho.webui import create_app

    current = context.settings(web_listen=listen)
    configure_logging(current)
    host, _, port = current.web_listen.rpartition(":")
    create_app(current).run(host=host, port=int(port), threaded=True)


@main.command()
@click.option("--listen", help="host:port that Dovecot's auth_policy_server_url points at.")
@pass_context
def policy(context: Context, listen: str | None) -> None:
    """Answer Dovecot's auth policy requests: the web login's lockout for POP3, IMAP, SMTP AUTH."""
    import signal
    import threading

    from sekisho.policy import run

    current = context.settings(policy_listen=listen)
    configure_logging(current)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    run(current, context.store(), stop)


def _actor() -> str:
    """Who an operator action is recorded for: the login user running the command."""
    return f"cli:{getpass.getuser()}"


# An import with a wrong column has a problem on every line: the first ones tell.
SHOWN_PROBLEMS = 100


class _refusals:  # noqa: N801 -- reads as a clause: "with _refusals(): ..."
    """Turn the store's refusals into a clean exit status with the reasons."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: object
    ) -> None:
        if isinstance(error, settings_doc.SettingsImportError):
            for problem in error.problems:
                click.echo(f"error: {problem.render()}", err=True)
            raise click.ClickException("nothing was imported")
        if isinstance(error, account_import_store.AccountImportError):
            for line in error.problems[:SHOWN_PROBLEMS]:
                click.echo(f"error: {line.render()}", err=True)
            hidden = len(error.problems) - SHOWN_PROBLEMS
            if hidden > 0:
                click.echo(f"error: … and {hidden} more", err=True)
            raise click.ClickException(f"nothing was imported: {len(error.problems)} problems")
        if isinstance(error, accounts.AccountError):
            raise click.ClickException(str(error))


if __name__ == "__main__":
    main()
