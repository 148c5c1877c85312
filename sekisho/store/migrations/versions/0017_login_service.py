"""ログイン履歴 says which door each login came by: login_attempts.service (web, pop3,
imap, smtp …, sekisho.store.audit.LoginService). Rows from before get 'web': which of
them the policy server recorded for Dovecot was not kept.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "login_attempts",
        sa.Column("service", sa.String(length=16), nullable=False, server_default="web"),
    )


def downgrade() -> None:
    with op.batch_alter_table("login_attempts") as batch:
        batch.drop_column("service")
