"""Flask-Login's ``login_required`` with a type, so that the views stay typed.

Flask-Login ships no type hints: its decorator would make every view ``Any`` and need a
``type: ignore`` on each of them. It returns the view wrapped with ``functools.wraps``,
same arguments and result, which is what this says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask_login import login_required as _login_required

P = ParamSpec("P")
R = TypeVar("R")


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """The view, for a logged-in mailbox only; anyone else is sent to the login screen."""
    guarded: Callable[P, R] = _login_required(view)
    return guarded
