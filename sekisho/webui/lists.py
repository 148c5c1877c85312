"""The entry lists' screens: From and Subject reject lists (受信拒否設定) and the allow list
(受信許可設定), one blueprint each, built from one set of views and templates.

Flows, as the guide shows them:
- add: 一覧参照 → 「設定」 → textarea → 「次へ」 → 確認 → 「登録」 → 完了;
- delete: tick → 「削除」 (top or bottom) → 削除確認 → 「了解」 → 削除完了;
- delete all: 「全て削除」 → 完全削除確認 → 「了解」 → 完全削除最終確認 → 「了解」 → 完全削除完了;
- beyond the guide: search, pages, hit counters, CSV download and upload (replaces the list).
Every step that changes something is a POST carrying a one-time token kept in the
session, so a second post (back button, double click) changes nothing twice; every
change redirects to its completion screen.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask import Response as FlaskResponse
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.rules.lists import ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT, ListKind
from sekisho.rules.validate import FORM_MAX_LINES, EntryCheck
from sekisho.store import lists
from sekisho.store.audit import ChangeDetail, ChangeKind
from sekisho.store.uploads import stage_upload, take_upload
from sekisho.webui import csv_lists
from sekisho.webui.access import login_required
from sekisho.webui.context import settings, store
from sekisho.webui.flows import Pending, change, current_account_id, stale
from sekisho.webui.forms import ConfirmEntriesForm, EntriesForm, TokenForm, UploadForm

PER_PAGE = 50
# The upload confirmation lists at most this many added and removed entries of each.
SHOWN_CHANGES = 50


@dataclass(frozen=True)
class ListScreens:
    """Everything one list's screens say differently from the others'."""

    kind: ListKind
    url_prefix: str
    back_endpoint: str
    list_title: Any
    form_title: Any
    confirm_title: Any
    done_title: Any
    delete_confirm_title: Any
    delete_done_title: Any
    purge_confirm_title: Any
    purge_final_title: Any
    purge_done_title: Any
    column: Any
    empty: Any
    hits_heading: Any
    instructions: tuple[Any, ...]
    done_text: Any


SCREENS = (
    ListScreens(
        kind=REJECT_FROM,
        url_prefix="/reject/from",
        back_endpoint="reject.select",
        list_title=_l("From (sender address) reject list"),
        form_title=_l("From (sender address) reject settings"),
        confirm_title=_l("From (sender address) reject settings confirmation"),
        done_title=_l("From (sender address) reject settings complete"),
        delete_confirm_title=_l("From (sender address) reject settings deletion confirmation"),
        delete_done_title=_l("From (sender address) reject settings deletion complete"),
        purge_confirm_title=_l("From (sender address) reject settings delete-all confirmation"),
        purge_final_title=_l("From (sender address) reject settings delete-all final confirmation"),
        purge_done_title=_l("From (sender address) reject settings delete-all complete"),
        column=_l("Sender address or domain"),
        empty=_l("No sender address is registered."),
        hits_heading=_l("Mails caught"),
        instructions=(
            _l("Enter one sender address or domain per line."),
            _l("Up to 20 lines at a time; there is no limit on the total."),
            _l("At most 320 characters per line."),
            _l(
                "“example.com” rejects every address of that domain and its subdomains; "
                "“taro@example.com” rejects that address only."
            ),
            _l(
                "A local part alone (“taro@”) is refused, as it would match no address; a name "
                "without a dot (“xyz”) rejects that whole top-level domain."
            ),
        ),
        done_text=_l(
            "The sender addresses were registered. Mail from them now goes to your spam folder."
        ),
    ),
    ListScreens(
        kind=REJECT_SUBJECT,
        url_prefix="/reject/subject",
        back_endpoint="reject.select",
        list_title=_l("Subject reject list"),
        form_title=_l("Subject reject settings"),
        confirm_title=_l("Subject reject settings confirmation"),
        done_title=_l("Subject reject settings complete"),
        delete_confirm_title=_l("Subject reject settings deletion confirmation"),
        delete_done_title=_l("Subject reject settings deletion complete"),
        purge_confirm_title=_l("Subject reject settings delete-all confirmation"),
        purge_final_title=_l("Subject reject settings delete-all final confirmation"),
        purge_done_title=_l("Subject reject settings delete-all complete"),
        column=_l("Subject"),
        empty=_l("No subject is registered."),
        hits_heading=_l("Mails caught"),
        instructions=(
            _l("Enter one subject per line."),
            _l("Up to 20 lines at a time; there is no limit on the total."),
            _l("From 2 to 320 characters per line; half-width katakana cannot be entered."),
            _l(
                "A subject is caught when it contains the text anywhere: “Hello” catches "
                "every subject with Hello in it. Upper and lower case and full-width and "
                "half-width letters are treated alike."
            ),
        ),
        done_text=_l("The subjects were registered. Mail with them now goes to your spam folder."),
    ),
    ListScreens(
        kind=ALLOW_FROM,
        url_prefix="/allow",
        back_endpoint="overview.show",
        list_title=_l("Allow list"),
        form_title=_l("Allow settings"),
        confirm_title=_l("Allow settings confirmation"),
        done_title=_l("Allow settings complete"),
        delete_confirm_title=_l("Allow settings deletion confirmation"),
        delete_done_title=_l("Allow settings deletion complete"),
        purge_confirm_title=_l("Allow settings delete-all confirmation"),
        purge_final_title=_l("Allow settings delete-all final confirmation"),
        purge_done_title=_l("Allow settings delete-all complete"),
        column=_l("Sender address or domain"),
        empty=_l("No sender address is allowed."),
        hits_heading=_l("Mails let through"),
        instructions=(
            _l("Enter one sender address or domain per line."),
            _l("Up to 20 lines at a time; there is no limit on the total."),
            _l("At most 320 characters per line."),
            _l(
                "Mail whose From address matches is never caught by the reject settings or "
                "the spam scan. A virus is still removed."
            ),
            _l(
                "It applies only to a sender the spam scan found authenticated (DMARC, or "
                "DKIM or SPF of the From domain): mail that only pretends to come from an "
                "allowed address is checked as usual."
            ),
            _l(
                "“example.com” allows every address of that domain and its subdomains; "
                "“taro@example.com” allows that address only."
            ),
        ),
        done_text=_l(
            "The sender addresses were allowed. Mail from them is no longer caught by the "
            "reject settings or the spam scan."
        ),
    ),
)


def _digest(values: list[str]) -> str:
    return hashlib.sha256("\n".join(values).encode("utf-8", "surrogatepass")).hexdigest()


def make_blueprint(screens: ListScreens) -> Blueprint:
    kind = screens.kind
    blueprint = Blueprint(kind.name, __name__, url_prefix=screens.url_prefix)
    add_pending = Pending(kind.name, "add")
    delete_pending = Pending(kind.name, "delete")
    purge_pending = Pending(kind.name, "purge")

    def render(template: str, **context: Any) -> str:
        return render_template(template, screens=screens, endpoint=kind.name, **context)

    def here(view: str = "show") -> str:
        return url_for(f"{kind.name}.{view}")

    def check(text: str) -> EntryCheck:
        account_id = current_account_id()
        with store().read() as db:
            return lists.check_against_list(db, account_id, kind, text, FORM_MAX_LINES)

    def done_screen(title: Any, text: Any) -> Callable[[], str]:
        def view() -> str:
            return render("lists/done.html", title=title, text=text)

        return view

    @blueprint.route("/")
    @login_required
    def show() -> str:
        search = request.args.get("q", "").strip()
        number = request.args.get("page", 1, type=int) or 1
        account_id = current_account_id()
        with store().read() as db:
            page = lists.page_of(db, account_id, kind, number, PER_PAGE, search)
            # Unsearched, the page has counted the list already (a count of 100,000 entries
            # is a third of the page's time on PostgreSQL).
            count = lists.count_and_last_id(db, account_id, kind)[0] if search else page.total
            return render(
                "lists/list.html",
                page=page,
                search=search,
                count=count,
                form=TokenForm(),
                upload=UploadForm(),
            )

    @blueprint.route("/new", methods=["GET", "POST"])
    @login_required
    def new() -> str:
        form = EntriesForm()
        if not form.validate_on_submit():
            return render("lists/form.html", form=form, problems=[])
        result = check(form.entries.data or "")
        if not result.ok:
            problems = [p.render(gettext) for p in result.problems]
            return render("lists/form.html", form=form, problems=problems)
        token = add_pending.issue(digest=_digest(list(result.values)))
        return render(
            "lists/confirm.html",
            form=ConfirmEntriesForm(formdata=None, entries="\n".join(result.values), token=token),
            entries=result.values,
            warnings=[w.render(gettext) for w in result.warnings],
        )

    @blueprint.route("/confirm", methods=["POST"])
    @login_required
    def register() -> str | Response:
        form = ConfirmEntriesForm()
        pending = add_pending.take(form)
        if pending is None:
            return stale(here())
        result = check(form.entries.data or "")
        if not result.ok:
            problems = [p.render(gettext) for p in result.problems]
            return render(
                "lists/form.html", form=EntriesForm(entries=form.entries.data), problems=problems
            )
        if _digest(list(result.values)) != pending["digest"]:
            return stale(here("new"))  # only what the confirmation screen showed

        def add(db: Session, account_id: int) -> ChangeDetail:
            lists.add_entries(db, account_id, kind, result.entries)
            return ChangeDetail(ChangeKind.ADDED, result.values)

        if not change(add):
            return stale(here())
        return redirect(here("done"))

    blueprint.add_url_rule(
        "/done", "done", login_required(done_screen(screens.done_title, screens.done_text))
    )

    @blueprint.route("/delete", methods=["POST"])
    @login_required
    def delete() -> str | Response:
        form = TokenForm()
        # A page shows PER_PAGE boxes; more ids are not from this form (and would swell the
        # session cookie that carries them to 「了解」).
        ids = [int(v) for v in request.form.getlist("entry") if v.isdigit()][:PER_PAGE]
        account_id = current_account_id()
        with store().read() as db:
            entries = lists.entries_by_ids(db, account_id, kind, ids) if ids else []
        if not form.validate_on_submit() or not entries:
            flash(gettext("Tick the entries to delete first."), "warning")
            return redirect(here())
        token = delete_pending.issue(ids=[entry.id for entry in entries])
        return render(
            "lists/delete_confirm.html",
            entries=[entry.value for entry in entries],
            form=TokenForm(formdata=None, token=token),
        )

    @blueprint.route("/delete/confirm", methods=["POST"])
    @login_required
    def delete_confirmed() -> Response:
        pending = delete_pending.take(TokenForm())
        if pending is None:
            return stale(here())

        def remove(db: Session, account_id: int) -> ChangeDetail:
            gone = lists.entries_by_ids(db, account_id, kind, pending["ids"])
            lists.delete_entries(db, account_id, kind, pending["ids"])
            return ChangeDetail(ChangeKind.REMOVED, tuple(entry.value for entry in gone))

        change(remove)
        return redirect(here("delete_done"))

    blueprint.add_url_rule(
        "/delete/done",
        "delete_done",
        login_required(
            done_screen(screens.delete_done_title, _l("The selected entries were deleted."))
        ),
    )

    @blueprint.route("/purge")
    @login_required
    def purge() -> str | Response:
        account_id = current_account_id()
        with store().read() as db:
            count, last_id = lists.count_and_last_id(db, account_id, kind)
        if not count:
            return redirect(here())
        token = purge_pending.issue(last_id=last_id, count=count, stage="first")
        return render(
            "lists/purge_confirm.html",
            title=screens.purge_confirm_title,
            count=count,
            form=TokenForm(formdata=None, token=token),
            final=False,
        )

    @blueprint.route("/purge/confirm", methods=["POST"])
    @login_required
    def purge_confirmed() -> str | Response:
        pending = purge_pending.take(TokenForm())
        if pending is None or pending["stage"] != "first":
            return stale(here())
        token = purge_pending.issue(
            last_id=pending["last_id"], count=pending["count"], stage="final"
        )
        return render(
            "lists/purge_confirm.html",
            title=screens.purge_final_title,
            count=pending["count"],
            form=TokenForm(formdata=None, token=token),
            final=True,
        )

    @blueprint.route("/purge/final", methods=["POST"])
    @login_required
    def purge_final() -> Response:
        pending = purge_pending.take(TokenForm())
        if pending is None or pending["stage"] != "final":
            return stale(here())

        def remove_all(db: Session, account_id: int) -> ChangeDetail:
            count = lists.delete_up_to(db, account_id, kind, pending["last_id"])
            return ChangeDetail(ChangeKind.REMOVED_ALL, count=count)

        change(remove_all)
        return redirect(here("purge_done"))

    blueprint.add_url_rule(
        "/purge/done",
        "purge_done",
        login_required(
            done_screen(screens.purge_done_title, _l("Every entry of the list was deleted."))
        ),
    )

    @blueprint.route("/export.csv")
    @login_required
    def export() -> Response:
        account_id = current_account_id()
        with store().read() as db:
            rows = lists.export_rows(db, account_id, kind)
        return FlaskResponse(
            csv_lists.to_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{kind.name}.csv"'},
        )

    @blueprint.route("/import", methods=["POST"])
    @login_required
    def upload() -> str | Response:
        form = UploadForm()
        if not form.validate_on_submit():
            flash(gettext("Choose a CSV file to upload."), "warning")
            return redirect(here())
        limits = csv_lists.UploadLimits(settings().upload_max_bytes, settings().upload_max_lines)
        try:
            with closing(form.file.data) as uploaded:  # werkzeug spools a large one to a file
                lines = csv_lists.entry_column(uploaded.stream, limits)
        except csv_lists.CsvError as error:
            return render("lists/upload_problems.html", problems=[error.problem.render(gettext)])
        result = kind.check_entries(lines, max_lines=None)
        if not result.ok:
            problems = [p.render(gettext) for p in result.problems]
            return render("lists/upload_problems.html", problems=problems)
        token = secrets.token_urlsafe(16)
        account_id = current_account_id()
        with store().transaction() as db:
            planned = lists.replacement(db, account_id, kind, result.entries)
            stage_upload(db, account_id, kind, token, result.values)
        return render(
            "lists/upload_confirm.html",
            form=TokenForm(formdata=None, token=token),
            total=len(result.entries),
            added=planned.added[:SHOWN_CHANGES],
            added_count=len(planned.added),
            removed=planned.removed[:SHOWN_CHANGES],
            removed_count=len(planned.removed),
        )

    @blueprint.route("/import/confirm", methods=["POST"])
    @login_required
    def upload_confirmed() -> Response:
        form = TokenForm()
        token = form.token.data if form.validate_on_submit() else None

        def replace(db: Session, account_id: int) -> ChangeDetail:
            staged = take_upload(db, account_id, kind, token) if token else None
            if staged is None:
                raise _StaleUploadError
            entries = kind.check_entries(staged, max_lines=None).entries
            lists.replace_entries(db, account_id, kind, entries)
            return ChangeDetail(ChangeKind.UPLOADED, tuple(entry.value for entry in entries))

        try:
            replaced = change(replace)
        except _StaleUploadError:
            replaced = False
        return redirect(here("upload_done")) if replaced else stale(here())

    blueprint.add_url_rule(
        "/import/done",
        "upload_done",
        login_required(
            done_screen(screens.done_title, _l("The list was replaced with the uploaded file."))
        ),
    )

    return blueprint


class _StaleUploadError(Exception):
    """The upload to confirm was taken already, replaced by a newer one, or expired."""
