"""変更履歴 says what changed: each settings change keeps its detail (what was added,
removed or set, sekisho.store.audit.ChangeDetail as JSON). Rows from before stay NULL and
the history names only their screen.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("settings_changes", sa.Column("detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("settings_changes") as batch:
        batch.drop_column("detail")
