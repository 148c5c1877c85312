"""The API's rate limit counts each token's calls of the last minute in the audit log, the
one place every web process and node writes them: an index on (actor, at) keeps that a
range read however long the log grows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_operator_actions_actor_at", "operator_actions", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_operator_actions_actor_at", table_name="operator_actions")
