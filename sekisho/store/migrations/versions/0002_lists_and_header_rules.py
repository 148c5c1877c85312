"""Every list in one table with hit counters; header reject settings; pending uploads.

The From reject entries of 0001 move into ``list_entries`` (kind ``reject_from``) with
their match key computed as the milter computes it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from sekisho.rules.addresses import normalize_address

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    list_entries = op.create_table(
        "list_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("match_key", sa.Text(), nullable=False),
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_list_entries_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_list_entries"),
        sa.UniqueConstraint("account_id", "kind", "key_digest", name="uq_list_entries_account_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_list_entries_account_kind_id", "list_entries", ["account_id", "kind", "id"])
    op.create_table(
        "reject_header_rules",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("header_check", sa.String(20), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_reject_header_rules_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", "header_check", name="pk_reject_header_rules"),
    )
    op.create_table(
        "pending_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_pending_uploads_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pending_uploads"),
    )
    op.create_index("ix_pending_uploads_account_id", "pending_uploads", ["account_id"])
    old_entries = sa.table(
        "reject_from_entries",
        sa.column("id", sa.Integer()),
        sa.column("account_id", sa.Integer()),
        sa.column("value", sa.String()),
        sa.column("created_at", TZ),
    )
    old = (
        op.get_bind()
        .execute(
            sa.select(
                old_entries.c.account_id, old_entries.c.value, old_entries.c.created_at
            ).order_by(old_entries.c.id)
        )
        .all()
    )
    rows = []
    seen: set[tuple[int, str]] = set()
    for account_id, value, created_at in old:
        key = normalize_address(value)
        if (account_id, key) in seen:
            continue  # two spellings of one entry (例え.jp, xn--r8jz45g.jp): keep the oldest
        seen.add((account_id, key))
        rows.append(
            {
                "account_id": account_id,
                "kind": "reject_from",
                "value": value,
                "match_key": key,
                "key_digest": hashlib.sha256(key.encode()).hexdigest(),
                "hit_count": 0,
                "last_hit_at": None,
                "created_at": created_at,
            }
        )
    if rows:
        op.bulk_insert(list_entries, rows)
    op.drop_table("reject_from_entries")


def downgrade() -> None:
    op.create_table(
        "reject_from_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_reject_from_entries_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reject_from_entries"),
        sa.UniqueConstraint("account_id", "value", name="uq_reject_from_entries_account_id"),
    )
    op.create_index("ix_reject_from_entries_account_id", "reject_from_entries", ["account_id"])
    op.execute(
        "INSERT INTO reject_from_entries (account_id, value, created_at) "
        "SELECT account_id, value, created_at FROM list_entries WHERE kind = 'reject_from'"
    )
    op.drop_table("pending_uploads")
    op.drop_table("reject_header_rules")
    op.drop_table("list_entries")
