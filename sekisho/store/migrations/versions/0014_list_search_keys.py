"""A list's search served by indexes: each entry's key also backwards (``reversed_key``),
both keys indexed per list and compared in code point order on PostgreSQL too, so "begins
with" and "ends with" are ranges of an index instead of a scan of the list.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SEARCH_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.alter_column("list_entries", "match_key", type_=sa.Text(collation="C"))
    else:
        # SQLite has no reverse(); Python's reverses code points as PostgreSQL's does.
        bind.connection.driver_connection.create_function(  # type: ignore[union-attr]
            "reverse", 1, lambda text: text[::-1], deterministic=True
        )
    op.add_column("list_entries", sa.Column("reversed_key", SEARCH_KEY, nullable=True))
    op.execute("UPDATE list_entries SET reversed_key = reverse(match_key)")
    with op.batch_alter_table("list_entries") as batch:
        batch.alter_column("reversed_key", existing_type=SEARCH_KEY, nullable=False)
    op.create_index(
        "ix_list_entries_account_kind_key", "list_entries", ["account_id", "kind", "match_key"]
    )
    op.create_index(
        "ix_list_entries_account_kind_reversed",
        "list_entries",
        ["account_id", "kind", "reversed_key"],
    )


def downgrade() -> None:
    op.drop_index("ix_list_entries_account_kind_reversed", "list_entries")
    op.drop_index("ix_list_entries_account_kind_key", "list_entries")
    with op.batch_alter_table("list_entries") as batch:
        batch.drop_column("reversed_key")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("list_entries", "match_key", type_=sa.Text())
