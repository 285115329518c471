"""Alembic environment. Tower always hands Alembic an open connection (see storage/migrate.py),
so migrations run inside Tower's own transaction, with its SQLite and PostgreSQL settings."""

from alembic import context

from storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode does that for us.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
