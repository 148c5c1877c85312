"""国外からのメール送信制限: when each mailbox's lifting ends.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "abroad_unlocks",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("unlocked_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_abroad_unlocks_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_abroad_unlocks"),
    )


def downgrade() -> None:
    op.drop_table("abroad_unlocks")
