"""Log files hold plain text: no terminal colour codes (werkzeug colours its request lines)."""

from __future__ import annotations

import logging

from sekisho.logsetup import PlainFormatter


def test_werkzeugs_coloured_request_line_is_written_plain() -> None:
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [%s] "%s" %s -',
        (
            "127.0.0.1",
            "06/Dec/2026 10:00:00",
            "\x1b[33mPOST /login HTTP/1.1\x1b[0m",
            "\x1b[31m\x1b[1m400\x1b[0m",
        ),
        None,
    )
    line = PlainFormatter("%(name)s %(message)s").format(record)
    assert line == 'werkzeug 127.0.0.1 - - [06/Dec/2026 10:00:00] "POST /login HTTP/1.1" 400 -'
