"""Typed validation problems shared by the web forms, the CLI and the settings import.

Messages are English msgids marked with ``N_`` so Babel extracts them; the web layer
translates them, the CLI prints them as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


def N_(message: str) -> str:  # noqa: N802 -- the gettext_noop marker name Babel extracts
    return message


@dataclass(frozen=True)
class Problem:
    """One broken rule: which line (1-based, None for the whole input) and why."""

    message: str
    line: int | None = None
    entry: str = ""
    params: dict[str, int | str] = field(default_factory=dict)

    def render(self, translate: Callable[[str], str] | None = None) -> str:
        """The message with its parameters filled in; ``translate`` maps the msgid."""
        template = translate(self.message) if translate else self.message
        return template.format(line=self.line, entry=self.entry, **self.params)
