"""The pages a customer sees when a screen is not there, cannot be opened that way, has
expired or broke: in the site's look and language, never the framework's bare English page,
and each with a way back."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    app.register_error_handler(404, not_found)
    app.register_error_handler(405, wrong_method)
    app.register_error_handler(500, broken)
    app.register_error_handler(CSRFError, expired_form)


def not_found(_error: HTTPException) -> tuple[str, int]:
    return _page(
        gettext("Page not found"),
        gettext("The page you asked for does not exist, or it is no longer there."),
        404,
    )


def wrong_method(_error: HTTPException) -> tuple[str, int]:
    # Typically a confirmation screen opened again from the address bar or a bookmark:
    # it exists only as the answer to the previous screen's button.
    return _page(
        gettext("This screen cannot be opened directly"),
        gettext(
            "This screen opens only from the button of the screen before it. "
            "Please start again from the previous screen."
        ),
        405,
    )


def broken(_error: HTTPException) -> tuple[str, int]:
    # Flask has logged the exception with its traceback before calling this.
    return _page(
        gettext("An error occurred"),
        gettext(
            "Something went wrong on our side, and what you asked for may not have been "
            "done. Please try again in a few minutes."
        ),
        500,
    )


def expired_form(_error: CSRFError) -> tuple[str, int]:
    # After the idle timeout the session, and the form's CSRF token with it, is gone.
    return _page(
        gettext("The page has expired"),
        gettext("The page had expired, so nothing was changed. Please try again."),
        400,
    )


def _page(heading: str, message: str, status: int) -> tuple[str, int]:
    return render_template(
        "error.html", heading=heading, message=message, back=_previous_screen()
    ), status


def _previous_screen() -> str | None:
    """The screen the customer came from, when it is one of this site's (a link elsewhere
    would take them off the site)."""
    referrer = request.referrer
    if not referrer or referrer == request.url:
        return None
    came_from = urlsplit(referrer)
    if came_from.scheme not in {"http", "https"} or came_from.netloc != request.host:
        return None
    return referrer
