"""変更履歴: every change of a mailbox's settings, with the screen and the client.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=40), nullable=False),
        sa.Column("client_address", sa.String(length=45), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_settings_changes_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_settings_changes"),
    )
    op.create_index("ix_settings_changes_account_at", "settings_changes", ["account_id", "at"])


def downgrade() -> None:
    op.drop_table("settings_changes")
