"""One page of a query's rows, with the total and the page count for the page links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
PER_PAGE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    entries: list[T]
    total: int  # rows of the whole query (after any search)
    number: int
    pages: int


def page_of_rows(
    session: Session, statement: Select[Any], number: int = 1, per_page: int = PER_PAGE
) -> Page[Any]:
    """Page ``number`` (clamped to 1..pages) of ``statement``, which must be ordered."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    total = total or 0
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    entries = session.scalars(statement.offset((number - 1) * per_page).limit(per_page)).all()
    return Page(list(entries), total, number, pages)


def containing(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) for values that contain ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
