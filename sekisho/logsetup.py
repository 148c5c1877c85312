"""The logging every sekisho process sets up: plain-text lines on stderr at the configured
level (systemd's journal, or the file the devstack and the demo redirect it to). The
commands of sekisho.cli call it, and so does the WSGI module gunicorn imports, which
runs no command."""

from __future__ import annotations

import logging
import re
import sys

from sekisho.config import Settings


def configure_logging(current: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=current.log_level.upper(), handlers=[handler])


class PlainFormatter(logging.Formatter):
    """Log lines as plain text. Werkzeug's development server (``sekisho web``, which the
    devstack and the demo log to web.log) colours its request lines with ANSI codes: in
    a file they are escape junk around the status code, and grep misses them."""

    _ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

    def format(self, record: logging.LogRecord) -> str:
        return self._ANSI.sub("", super().format(record))
