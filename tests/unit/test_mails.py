"""The mails sekisho writes, composed without the web UI: each half in its own language,
and the worker's process free of Flask's app."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from sekisho.config import load_settings
from sekisho.mails.notice import compose_notice
from sekisho.mails.virus_report import removed_part_text
from sekisho.store.models import QuarantinedMessage


def test_the_worker_does_not_import_the_web_ui() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, sekisho.worker; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "sekisho.worker" in loaded
    assert [name for name in loaded if name.startswith(("sekisho.webui", "flask"))] == []


def test_each_half_of_a_notice_gives_the_reason_in_its_own_language() -> None:
    settings = load_settings(environ={"SEKISHO_DATABASE_URL": "sqlite:////nonexistent/s.db"})
    caught = QuarantinedMessage(
        id=1,
        account_id=2,
        message_key="k",
        rule="reject_header",
        entry="from_missing",
        matched="",
        sender="x@spam.example",
        subject="offer",
        received_at=datetime(2024, 5, 1, 3, 4),
        expires_at=datetime(2024, 5, 8, 3, 4),
    )
    notice = compose_notice(settings, "key", "taro@example.jp", [caught], "https://h/supw/")
    japanese, english = notice.get_payload(decode=True).decode().split("\n\nThe spam scan")
    assert "理由: ヘッダー受信拒否設定：From：ヘッダ自体が存在しない" in japanese
    assert "Reason: Header reject setting: From: the header itself is missing" in english
    assert "受信日時: 2024/05/01 12:04" in japanese  # Japan time
    assert "Move back to the inbox: https://h/supw/release/" in english


def test_a_removed_part_without_a_file_name_says_so() -> None:
    assert removed_part_text("Eicar", "") == (
        "この部分（ファイル名なし）からウィルス（Eicar）が検出されたため、"
        "ウィルススキャンにより削除しました。\n"
        "This part (no file name) contained a virus (Eicar) and was removed by the virus scan."
    )
    assert "This part (a.zip) contained a virus (Eicar)" in removed_part_text("Eicar", "a.zip")
