"""Flask-WTF forms (CSRF on every POST). Entry rules live in sekisho.rules.validate."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from sekisho.rules.auto_reply import MAX_SENDER_TEXTS, AutoReply, SenderText
from sekisho.rules.model import HeaderCheck, SpamSetting
from sekisho.rules.passwords import LONGEST_CHECKED


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no type hints
    address = StringField(_l("Mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(
        _l("POP account password"), validators=[DataRequired(), Length(max=LONGEST_CHECKED)]
    )


class PasswordChangeForm(FlaskForm):  # type: ignore[misc]
    """POP アカウントパスワード変更: the current password, the new one twice. No field
    validators: every rule, the length too, is sekisho.rules.passwords' with its own
    message (a validator here would fail the form without one)."""

    current = PasswordField(_l("Current POP account password"))
    new = PasswordField(_l("New POP account password"))
    again = PasswordField(_l("New POP account password again, to confirm"))


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

    address = StringField(_l("Forwarding address"))  # checked by rules.forwarding.check_target
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


# Empty per-sender rows that stand open below the last one filled in; the others, up to the
# maximum, are one click away (「入力欄を追加」) so that the screen does not start with ten.
BLANK_SENDER_ROWS = 3


def _lf(text: str | None) -> str:
    """A textarea's text with LF line breaks: browsers send CRLF, which would count twice
    against the length limit."""
    return (text or "").replace("\r\n", "\n")


class SenderTextForm(Form):  # type: ignore[misc]  # wtforms ships no type hints
    """One per-sender row: the sender's address or domain and the text it gets (a plain
    Form: the CSRF token of the AutoReplyForm around it covers it)."""

    pattern = StringField(_l("Sender address or domain"))
    message = TextAreaField(_l("Message for this sender"))


class AutoReplyForm(FlaskForm):  # type: ignore[misc]
    """自動返信設定: 有効（ON）, the reply message, the optional dates (days in Japan, both
    included) and the per-sender rows. The setting's own rules: check_auto_reply."""

    enabled = BooleanField(_l("Enabled (ON)"))
    message = TextAreaField(_l("Reply message"))
    starts_on = DateField(
        _l("Start date"),
        validators=[Optional()],
        invalid_value_message=_l("The start date is not a valid date."),
    )
    ends_on = DateField(
        _l("End date"),
        validators=[Optional()],
        invalid_value_message=_l("The end date is not a valid date."),
    )
    # Only a forged post has more rows than the screen offers; those beyond are dropped.
    per_sender = FieldList(FormField(SenderTextForm), max_entries=MAX_SENDER_TEXTS)

    @classmethod
    def prefilled(cls, setting: AutoReply) -> AutoReplyForm:
        """The form showing ``setting``, with blank rows up to the maximum of per-sender
        messages."""
        form = cls(
            formdata=None,
            enabled=setting.enabled,
            message=setting.message,
            starts_on=setting.starts_on,
            ends_on=setting.ends_on,
            per_sender=[
                {"pattern": entry.pattern, "message": entry.message} for entry in setting.per_sender
            ],
        )
        while len(form.per_sender) < MAX_SENDER_TEXTS:
            form.per_sender.append_entry()
        return form

    def rows_open(self) -> int:
        """How many per-sender rows the screen shows open: up to the last one filled in,
        and a few empty ones."""
        last = max((number for number, _ in self.filled_rows()), default=0)
        return min(last + BLANK_SENDER_ROWS, len(self.per_sender))

    def date_errors(self) -> list[str]:
        """A start or end date that is not a date, once ``validate`` has read them."""
        return [str(error) for field in (self.starts_on, self.ends_on) for error in field.errors]

    def filled_rows(self) -> list[tuple[int, SenderText]]:
        """Each per-sender row with something typed in, and its number on the screen; a
        row with both fields empty is ignored."""
        filled = []
        for number, row in enumerate(self.per_sender, start=1):
            pattern, message = (row.pattern.data or "").strip(), _lf(row.message.data)
            if pattern or message.strip():
                filled.append((number, SenderText(pattern, message)))
        return filled

    def chosen(self) -> AutoReply:
        """The setting as entered (a date that is not one counts as none)."""
        return AutoReply(
            enabled=bool(self.enabled.data),
            message=_lf(self.message.data),
            per_sender=tuple(entry for _, entry in self.filled_rows()),
            starts_on=self.starts_on.data,
            ends_on=self.ends_on.data,
        )


class ConfirmSettingForm(TokenForm):
    """A confirmation screen posts back the setting it showed (the session keeps only its
    digest: a signed cookie cannot hold pages of text), with the one-time token."""

    setting = HiddenField()


class RuleTestForm(FlaskForm):  # type: ignore[misc]
    """ルールのテスト: a mail's header and, if the owner knows it, its envelope sender. No
    field validators: the view names the field and the limit in its own message."""

    header = TextAreaField(_l("Mail header"))
    sender = StringField(_l("Envelope sender (MAIL FROM)"))
