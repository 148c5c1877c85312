"""自動返信設定: the setting, its per-sender texts, and the senders replied to.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _account_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["accounts.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_account_id_accounts",
    )


def upgrade() -> None:
    op.create_table(
        "auto_reply_settings",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        _account_key("auto_reply_settings"),
        sa.PrimaryKeyConstraint("account_id", name="pk_auto_reply_settings"),
    )
    op.create_table(
        "auto_reply_sender_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(length=320), nullable=False),
        sa.Column("pattern_key", sa.String(length=320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _account_key("auto_reply_sender_texts"),
        sa.PrimaryKeyConstraint("id", name="pk_auto_reply_sender_texts"),
        sa.UniqueConstraint(
            "account_id", "pattern_key", name="uq_auto_reply_sender_texts_account_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_auto_reply_sender_texts_account_id", "auto_reply_sender_texts", ["account_id"]
    )
    op.create_table(
        "auto_reply_senders",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True),
        _account_key("auto_reply_senders"),
        sa.PrimaryKeyConstraint("account_id", "sender", name="pk_auto_reply_senders"),
    )


def downgrade() -> None:
    op.drop_table("auto_reply_senders")
    op.drop_table("auto_reply_sender_texts")
    op.drop_table("auto_reply_settings")
