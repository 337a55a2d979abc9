"""Alembic environment: runs migrations on the engine that the daemon passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from watchdog.storage.models import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    """Run the migrations online, on the caller's engine or one built from the URL."""
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine and no sqlalchemy.url: run 'inference-watchdog db upgrade'")
        engine = create_engine(url)

    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode copies the table.
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise RuntimeError("offline SQL generation is not supported; migrate a database directly")
run_migrations()
