"""The release link a quarantine notice carries, and the token in it.

The token is HMAC-signed (itsdangerous, keyed with the web UI's secret key) and names one
copy of one mailbox: it is all the authority the web UI's release page
(sekisho.webui.release_links) needs, so the owner need not log in.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

# Where the web UI serves the release page, under the owner's login site.
RELEASE_PATH = "/release"
SALT = "sekisho.quarantine-release"


@dataclass(frozen=True)
class ReleaseTarget:
    """One copy: its row and its message key, so a row id used again (SQLite reuses the
    highest id after a delete) can never make an old link name another mail."""

    account_id: int
    record_id: int
    message_key: str


def release_token(secret_key: str, target: ReleaseTarget) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps(
        [target.account_id, target.record_id, target.message_key]
    )


def read_release_token(secret_key: str, token: str, max_age_days: int) -> ReleaseTarget | None:
    """The copy a token names; None when it is forged, damaged or too old."""
    serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
    try:
        account_id, record_id, message_key = serializer.loads(token, max_age=max_age_days * 86400)
    except (BadSignature, ValueError, TypeError):
        return None
    if not (
        isinstance(account_id, int) and isinstance(record_id, int) and isinstance(message_key, str)
    ):
        return None
    return ReleaseTarget(account_id, record_id, message_key)


def release_url(web_url: str, secret_key: str, target: ReleaseTarget) -> str:
    """The link to ``target``'s release page on ``web_url``, the web UI as its owner
    reaches it (their login site)."""
    return f"{web_url.rstrip('/')}{RELEASE_PATH}/{release_token(secret_key, target)}"
