"""Flask-WTF forms (CSRF on every POST). Entry rules live in sekisho.rules.validate."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    address = StringField(_l("Mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(
        _l("POP account password"), validators=[DataRequired(), Length(max=128)]
    )


class EntriesForm(FlaskForm):  # type: ignore[misc]
    """The textarea of a list's setting screen: one entry per line."""

    entries = TextAreaField(_l("One per line"))


class ConfirmEntriesForm(FlaskForm):  # type: ignore[misc]
    """The confirmation screen posts the checked entries back with a one-time token."""

    entries = HiddenField()
    token = HiddenField()
