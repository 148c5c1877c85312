"""受信ログ's search served by an index: the (account, time, id) index also carries each
row's sender and subject, so that a search (ILIKE '%…%', which no B-tree can seek) reads
the mailbox's range of the index instead of every row of the mailbox, scattered through
the table (bench/README.md). SQLite has no INCLUDE: the two texts are trailing keys there.

Building it reads the whole table while writes wait (on SQLite every write to the store,
on PostgreSQL those to this table): at millions of rows, upgrade with the milter stopped.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLE = "delivery_log"
KEYS = ["account_id", "at", "id"]
TEXTS = ["sender", "subject"]
BEFORE = "ix_delivery_log_account_at"
SQLITE = "ix_delivery_log_account_at_sender_subject"
POSTGRESQL = "ix_delivery_log_account_at_incl_sender_subject"


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _on_postgresql():
        op.create_index(POSTGRESQL, TABLE, KEYS, postgresql_include=TEXTS)
    else:
        op.create_index(SQLITE, TABLE, KEYS + TEXTS)
    op.drop_index(BEFORE, TABLE)


def downgrade() -> None:
    op.create_index(BEFORE, TABLE, KEYS)
    op.drop_index(POSTGRESQL if _on_postgresql() else SQLITE, TABLE)
