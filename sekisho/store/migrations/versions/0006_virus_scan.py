"""Virus scan settings per mailbox, and outbox rows that carry their mail's material.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "virus_settings",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_virus_settings_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_virus_settings"),
    )
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("details", sa.Text(), nullable=True))
        table.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.drop_column("content")
        table.drop_column("details")
    op.drop_table("virus_settings")
