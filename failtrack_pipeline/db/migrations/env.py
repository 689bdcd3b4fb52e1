"""Alembic environment: failtrack always hands in an open connection (see db/migrate.py).

Migrations are frozen: neither this file nor a revision imports the live schema, which
moves on; tests compare the migrated database with it instead.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
