"""Initial schema: login sites, domains, accounts, From reject list, quarantine records.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_sites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("host_name", sa.String(253), nullable=True),
        sa.Column("url_prefix", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_sites"),
        sa.UniqueConstraint("name", name="uq_login_sites_name"),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("smtp_host", sa.String(253), nullable=False),
        sa.Column("pop_host", sa.String(253), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["login_sites.id"], name="fk_domains_site_id_login_sites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_domains"),
        sa.UniqueConstraint("name", name="uq_domains_name"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name="fk_accounts_domain_id_domains"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("address", name="uq_accounts_address"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "reject_from_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_reject_from_entries_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reject_from_entries"),
        sa.UniqueConstraint("account_id", "value", name="uq_reject_from_entries_account_id"),
    )
    op.create_index("ix_reject_from_entries_account_id", "reject_from_entries", ["account_id"])
    op.create_table(
        "quarantined_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("matched", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name="fk_quarantined_messages_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quarantined_messages"),
        sa.UniqueConstraint("account_id", "message_key", name="uq_quarantined_messages_account_id"),
    )
    op.create_index("ix_quarantined_messages_account_id", "quarantined_messages", ["account_id"])
    op.create_index("ix_quarantined_messages_expires_at", "quarantined_messages", ["expires_at"])


def downgrade() -> None:
    op.drop_table("quarantined_messages")
    op.drop_table("reject_from_entries")
    op.drop_table("accounts")
    op.drop_table("domains")
    op.drop_table("login_sites")
