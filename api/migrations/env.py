"""Alembic environment: runs on the connection the service hands over (api.migrate), or on a URL."""

from __future__ import annotations

from alembic import context

from api.db import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from api.db import make_engine

        with make_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
