"""Flask-WTF forms (CSRF on every POST). Entry rules live in sekisho.rules.validate."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from sekisho.rules.model import HeaderCheck, SpamSetting


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    address = StringField(_l("Mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(
        _l("POP account password"), validators=[DataRequired(), Length(max=128)]
    )


class PasswordChangeForm(FlaskForm):  # type: ignore[misc]
    """POP アカウントパスワード変更: the current password, the new one twice."""

    current = PasswordField(_l("Current POP account password"), validators=[Length(max=128)])
    new = PasswordField(_l("New POP account password"), validators=[Length(max=128)])
    again = PasswordField(
        _l("New POP account password again, to confirm"), validators=[Length(max=128)]
    )


class EntriesForm(FlaskForm):  # type: ignore[misc]
    """The textarea of a list's setting screen: one entry per line."""

    entries = TextAreaField(_l("One per line"))


class ConfirmEntriesForm(FlaskForm):  # type: ignore[misc]
    """The confirmation screen posts the checked entries back with a one-time token."""

    entries = HiddenField()
    token = HiddenField()


class TokenForm(FlaskForm):  # type: ignore[misc]
    """A step that changes something: CSRF plus the flow's one-time token."""

    token = HiddenField()


class UploadForm(FlaskForm):  # type: ignore[misc]
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class HeaderChecksForm(FlaskForm):  # type: ignore[misc]
    """The five header reject checkboxes (field names are HeaderCheck values)."""

    from_missing = BooleanField()
    from_empty_angle = BooleanField()
    from_empty = BooleanField()
    subject_missing = BooleanField()
    subject_empty = BooleanField()

    def chosen(self) -> set[HeaderCheck]:
        return {check for check in HeaderCheck if self[check.value].data}


_ON_OFF = [SelectChoice("on", _l("Enabled")), SelectChoice("off", _l("Disabled"))]


class ForwardForm(FlaskForm):  # type: ignore[misc]
    """転送設定: 転送先メールアドレス and 残す/残さない."""

    address = StringField(_l("Forwarding address"), validators=[Length(max=400)])
    keep = RadioField(
        _l("Mail in this mailbox"),
        choices=[SelectChoice("keep", _l("Keep")), SelectChoice("drop", _l("Do not keep"))],
        default="keep",
        validators=[InputRequired()],
    )


class SpamSettingForm(FlaskForm):  # type: ignore[misc]
    """迷惑メールスキャン, 迷惑メール隔離 and 隔離メール通知, each 有効／無効."""

    enabled = RadioField(_l("Spam scan"), choices=_ON_OFF, validators=[InputRequired()])
    quarantine = RadioField(_l("Spam quarantine"), choices=_ON_OFF, validators=[InputRequired()])
    notify = RadioField(_l("Quarantine notice"), choices=_ON_OFF, validators=[InputRequired()])

    def chosen(self) -> SpamSetting:
        return SpamSetting(
            enabled=self.enabled.data == "on",
            quarantine=self.quarantine.data == "on",
            notify=self.notify.data == "on",
        )
