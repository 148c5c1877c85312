"""Alembic environment: the URL comes from sekisho's settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from sekisho.store.db import make_engine
from sekisho.store.models import Base

engine = make_engine(context.config.attributes["database_url"])
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
