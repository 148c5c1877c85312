"""受信ログ: one row per mail and mailbox, what became of it and why, kept for the days
of ``delivery_log_days`` (sekisho.store.delivery_log).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
        ),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("matched", sa.Text(), nullable=False),
        sa.Column("forwarded_to", sa.Text(), nullable=False),
        sa.Column("auto_replied", sa.Boolean(), nullable=False),
        sa.Column("message_key", sa.String(64), nullable=False),
        sa.Column("queue_id", sa.String(32), nullable=False),
    )
    op.create_index("ix_delivery_log_account_at", "delivery_log", ["account_id", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_log_account_at", "delivery_log")
    op.drop_table("delivery_log")
