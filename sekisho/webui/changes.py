"""What the 変更履歴 says of one settings change: its screen, and what it added, removed
or set there (sekisho.store.audit.ChangeDetail), in the page's language. A row from before
details were kept names its screen only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask_babel import format_datetime, gettext, ngettext
from flask_babel import lazy_gettext as _l

from sekisho.rules.model import HeaderCheck
from sekisho.store.audit import ChangeDetail, ChangeKind, detail_of
from sekisho.store.models import SettingsChange
from sekisho.webui.reject import HEADER_CHECK_TEXTS

# The screen a change was made on, as the 変更履歴 names it (stored area → title). The area is
# the blueprint's name, except "autoreply": the auto_reply blueprint's stored area.
AREA_TITLES = {
    "forward": _l("Forwarding settings"),
    "reject_from": _l("From (sender address) reject settings"),
    "reject_subject": _l("Subject reject settings"),
    "allow_from": _l("Allow settings"),
    "autoreply": _l("Auto-reply settings"),
    "reject": _l("Header reject settings"),
    "spam": _l("Spam scan settings"),
    "virus": _l("Virus scan settings"),
    "abroad": _l("Sending from abroad restriction settings"),
    "password": _l("POP account password change"),
    "settings_import": _l("Settings imported by the operator"),
    "password_reset": _l("Temporary password issued by the operator"),
}
# The settings document's sections (sekisho.store.settings_doc) → the screen of each.
SECTION_AREAS = {
    "forwarding": "forward",
    "reject_from": "reject_from",
    "reject_subject": "reject_subject",
    "reject_header": "reject",
    "allow_from": "allow_from",
    "auto_reply": "autoreply",
    "virus_scan": "virus",
    "spam_scan": "spam",
    "abroad_send_unlocked_until": "abroad",
}
SPAM_SWITCHES = {
    "enabled": _l("Spam scan"),
    "quarantine": _l("Spam quarantine"),
    "notify": _l("Quarantine notice"),
}


def describe(change: SettingsChange) -> str:
    area = str(AREA_TITLES.get(change.area, change.area))
    detail = detail_of(change)
    what = _what(change.area, detail) if detail else ""
    return str(gettext("%(area)s: %(what)s", area=area, what=what)) if what else area


def _what(area: str, detail: ChangeDetail) -> str:
    if detail.kind is ChangeKind.ADDED and detail.values:
        return str(gettext("%(values)s added", values=_listed(detail)))
    if detail.kind is ChangeKind.REMOVED and detail.values:
        return str(gettext("%(values)s deleted", values=_listed(detail)))
    if detail.kind is ChangeKind.REMOVED_ALL:
        return str(
            ngettext("Deleted all (%(num)d entry)", "Deleted all (%(num)d entries)", detail.total)
        )
    if detail.kind is ChangeKind.UPLOADED:
        return str(
            ngettext(
                "Replaced by a file (%(num)d entry)",
                "Replaced by a file (%(num)d entries)",
                detail.total,
            )
        )
    if detail.kind is ChangeKind.SET:
        return _state(area, detail.values)
    if detail.kind is ChangeKind.IMPORTED:
        return _joined(AREA_TITLES[SECTION_AREAS[name]] for name in detail.values)
    return ""


def _listed(detail: ChangeDetail) -> str:
    shown = _joined(detail.values)
    more = detail.total - len(detail.values)
    if not more:
        return shown
    return str(gettext("%(values)s and %(more)d more", values=shown, more=more))


def _state(area: str, on: tuple[str, ...]) -> str:
    """The new state of a screen of switches (the names of those on), or of the lifting."""
    if area == "abroad":
        if not on:
            return str(gettext("Restricted"))
        until = format_datetime(datetime.fromisoformat(on[0]), "yyyy/MM/dd HH:mm")
        return str(gettext("Lifted (until %(time)s)", time=until))
    if area == "reject":
        labels = [HEADER_CHECK_TEXTS[HeaderCheck(name)][0] for name in on]
        return _joined(labels) if labels else str(gettext("None"))
    if area == "spam":
        return _joined(
            gettext("%(setting)s %(state)s", setting=label, state=_on_off(name in on))
            for name, label in SPAM_SWITCHES.items()
        )
    return _on_off("enabled" in on)


def _on_off(on: bool) -> str:
    return str(gettext("Enabled") if on else gettext("Disabled"))


def _joined(texts: Iterable[object]) -> str:
    return str(gettext(", ")).join(str(text) for text in texts)
