"""Spam scan settings per mailbox (迷惑メールスキャン設定).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spam_settings",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("quarantine", sa.Boolean(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_spam_settings_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_spam_settings"),
    )


def downgrade() -> None:
    op.drop_table("spam_settings")
