"""An SMTP server that keeps what it receives (aiosmtpd), for tests of what sekisho sends.

``answer`` sets the reply to DATA ("250 OK" by default), so a test can make it refuse;
``refused`` names recipients refused at RCPT; ``delay`` makes each DATA take that long
(a busy next hop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sekisho.devstack.ports import free_port


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Sink:
    port: int
    received: list[Received] = field(default_factory=list)
    answer: str = "250 OK"
    delay: float = 0.0
    refused: set[str] = field(default_factory=set)  # recipients answered 550 at RCPT

    async def handle_RCPT(  # noqa: N802
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.answer.startswith("250"):
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return self.answer

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def running(sink: Sink) -> Iterator[Sink]:
    """``sink`` listening on 127.0.0.1 for the duration."""
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    with running(Sink(free_port())) as sink:
        yield sink
