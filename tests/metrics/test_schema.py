"""The metrics tables created by migration 0003 match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from watchdog.storage import Store
from watchdog.storage.models import Base


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_metrics_tables_exist(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())

    assert {"metric_spool", "metric_rollups", "metric_counters", "metric_state"} <= tables
