"""転送設定: the forwarding addresses of each mailbox.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forwarding_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("keep", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_forwarding_targets_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_forwarding_targets"),
        sa.UniqueConstraint("account_id", "address", name="uq_forwarding_targets_account_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_forwarding_targets_account_id", "forwarding_targets", ["account_id"])


def downgrade() -> None:
    op.drop_table("forwarding_targets")
