"""The web UI: a Flask app factory with one blueprint per area of docs/features.md."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Response, render_template, request, session
from flask_babel import Babel, format_date, format_datetime, get_locale, gettext
from flask_wtf.csrf import CSRFProtect
from jinja2 import StrictUndefined
from sqlalchemy.exc import SQLAlchemyError

from sekisho.config import Settings, local_secret_key
from sekisho.maildir import Ownership
from sekisho.quarantine_folder import QuarantineFolder
from sekisho.store.db import Store
from sekisho.store.models import utcnow
from sekisho.texts import LANGUAGES, TIMEZONE
from sekisho.webui.addresses import breakable
from sekisho.webui.csv_lists import UploadLimits
from sekisho.webui.proxies import TrustedProxies
from sekisho.webui.sites import LoginSites, login_sites

log = logging.getLogger("sekisho.web")


def create_app(
    settings: Settings,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=local_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        BABEL_DEFAULT_LOCALE="ja",
        BABEL_DEFAULT_TIMEZONE=TIMEZONE,
        WTF_CSRF_TIME_LIMIT=None,
        # Twice the CSV file limit: a file somewhat over it still reaches the list page,
        # which names the field and the limit; a body larger than this is refused by
        # the framework from its Content-Length, unread (the 413 page below).
        MAX_CONTENT_LENGTH=2 * settings.upload_max_bytes,
        # The largest form, the auto-reply with 11 texts of 2,000 characters, is about
        # 200 kB url-encoded; Flask's own defaults, written here as part of the bound.
        MAX_FORM_MEMORY_SIZE=500_000,
        MAX_FORM_PARTS=1_000,
    )
    app.extensions["sekisho.settings"] = settings
    app.extensions["sekisho.clock"] = clock
    store = store or Store(settings.database_url)
    app.wsgi_app = LoginSites(app.wsgi_app, login_sites(store))  # type: ignore[method-assign]
    # Behind nginx or another proxy: the client address (login history, throttle) and
    # the scheme come from its X-Forwarded-* headers, trusted that many hops deep and
    # only from the configured proxies; outermost, so the login sites see the host the
    # owner asked for.
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app, settings.web_proxies, settings.web_proxy_networks
    )
    app.extensions["sekisho.store"] = store
    app.extensions["sekisho.quarantine_folder"] = QuarantineFolder(
        app.extensions["sekisho.store"],
        settings.mail_root.absolute(),
        Ownership(settings.mailbox_uid_gid),
    )
    Babel(app, locale_selector=_select_locale)
    csrf = CSRFProtect(app)

    from sekisho.webui import (
        abroad,
        auth,
        auto_reply,
        delivery_log,
        errors,
        forward,
        lists,
        overview,
        password,
        quarantine,
        reject,
        release_links,
        spam,
        tester,
        virus,
    )

    if settings.api_enabled:
        from sekisho.webui import api

        # A bearer token in a header is what a browser never sends by itself: no CSRF.
        csrf.exempt(api.blueprint)
        api.init_app(app, settings.api_calls_per_minute)
    auth.init_app(app)
    errors.init_app(app)
    password.init_app(app)
    app.register_blueprint(password.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(overview.blueprint)
    app.register_blueprint(reject.blueprint)
    for screens in lists.SCREENS:
        app.register_blueprint(lists.make_blueprint(screens))
    app.register_blueprint(quarantine.blueprint)
    app.register_blueprint(delivery_log.blueprint)
    app.register_blueprint(tester.blueprint)
    app.register_blueprint(release_links.blueprint)
    app.register_blueprint(spam.blueprint)
    app.register_blueprint(virus.blueprint)
    app.register_blueprint(abroad.blueprint)
    app.register_blueprint(forward.blueprint)
    app.register_blueprint(auto_reply.blueprint)

    app.jinja_env.filters["datetimeformat"] = format_datetime
    app.jinja_env.filters["dateformat"] = format_date
    app.jinja_env.filters["breakable"] = breakable
    # A name a template uses but its view did not pass is an error, not an empty string
    # (an empty form action once posted 「登録」 back to the wrong step).
    app.jinja_env.undefined = StrictUndefined

    @app.after_request
    def protect(response: Response) -> Response:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(413)
    def too_large(_error: Exception) -> tuple[str, int]:
        limits = UploadLimits(settings.upload_max_bytes, settings.upload_max_lines)
        message = gettext(
            "What was sent is too large, and nothing was changed: a CSV file can be at "
            "most %(megabytes)s MB.",
            megabytes=limits.megabytes,
        )
        return render_template("error.html", message=message), 413

    @app.errorhandler(SQLAlchemyError)
    def store_unavailable(error: SQLAlchemyError) -> tuple[str, int]:
        log.error("store_unavailable path=%s error=%s", request.path, str(error).splitlines()[0])
        message = gettext(
            "Your settings cannot be read or saved at the moment, and nothing was changed. "
            "Please try again in a few minutes."
        )
        return render_template("error.html", message=message), 503

    @app.context_processor
    def languages() -> dict[str, Any]:
        return {
            "languages": LANGUAGES,
            "get_locale": get_locale,
            "quarantine_days": settings.quarantine_days,
            "allow_list_trusts_unchecked": settings.allow_list_trusts_unchecked,
        }

    return app


def _select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    remembered = session.get("lang")
    if remembered in LANGUAGES:
        return str(remembered)
    return request.accept_languages.best_match(LANGUAGES, default="ja") or "ja"
