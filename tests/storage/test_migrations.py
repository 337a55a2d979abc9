"""The schema comes from Alembic, and it matches the models exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select, text
from sqlalchemy.exc import StatementError

from watchdog.storage import Store, open_store
from watchdog.storage.migrate import pending_revisions, upgrade
from watchdog.storage.models import Base, DaemonRun
from watchdog.storage.types import Money, UtcDateTime


def test_upgrade_head_matches_models(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'empty.db'}")

    upgrade(store.engine)

    with store.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    assert pending_revisions(store.engine) == []
    tables = set(inspect(store.engine).get_table_names())
    assert {"daemon_runs", "job_runs", "alembic_version"} <= tables
    store.close()


def test_new_database_has_pending_revisions(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")

    assert "0001" in pending_revisions(store.engine)
    store.close()


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    first = open_store(url)
    first.close()

    second = open_store(url)

    assert pending_revisions(second.engine) == []
    second.close()


def test_sqlite_pragmas_are_set(store: Store) -> None:
    with store.engine.connect() as connection:
        journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar_one()
        busy = connection.execute(text("PRAGMA busy_timeout")).scalar_one()

    assert journal == "wal"
    assert foreign_keys == 1
    assert busy == 10_000
    assert store.check() == "ok"


def test_timestamps_round_trip_as_utc(store: Store) -> None:
    started = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    with store.session() as session:
        session.add(DaemonRun(pid=1, host_name="h", started_at=started, embedded=True))

    with store.session() as session:
        run = session.scalars(select(DaemonRun)).one()

    assert run.started_at == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert run.started_at.tzinfo == UTC


def test_naive_timestamp_is_rejected(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"), store.session() as session:
        session.add(DaemonRun(pid=1, host_name="h", started_at=datetime(2026, 3, 1), embedded=True))  # noqa: DTZ001


def test_money_keeps_exact_decimal(tmp_path: Path) -> None:
    metadata = MetaData()
    table = Table(
        "amounts", metadata, Column("id", Integer, primary_key=True), Column("amount", Money())
    )
    store = Store.open(f"sqlite:///{tmp_path / 'money.db'}")
    metadata.create_all(store.engine)

    with store.session() as session:
        session.execute(table.insert().values(id=1, amount=Decimal("-0.0000000289")))
        session.execute(table.insert().values(id=2, amount=Decimal("3200.10")))
    with store.session() as session:
        amounts = session.execute(select(table.c.amount).order_by(table.c.id)).scalars().all()

    assert amounts == [Decimal("-0.0000000289"), Decimal("3200.10")]
    store.close()


def test_money_rejects_float(tmp_path: Path) -> None:
    metadata = MetaData()
    table = Table("amounts", metadata, Column("id", Integer, primary_key=True), Column("amount", Money()))
    store = Store.open(f"sqlite:///{tmp_path / 'float.db'}")
    metadata.create_all(store.engine)

    expected = r"money must be a Decimal, got float 0\.1"
    with pytest.raises(StatementError, match=expected), store.session() as session:
        session.execute(table.insert().values(id=1, amount=0.1))
    store.close()


def test_utc_datetime_sorts_as_text() -> None:
    column = UtcDateTime()
    early = column.process_bind_param(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), None)  # type: ignore[arg-type]
    late = column.process_bind_param(datetime(2026, 11, 2, 3, 4, 5, 6, tzinfo=UTC), None)  # type: ignore[arg-type]

    assert early == "2026-01-02T03:04:05.000000+00:00"
    assert late == "2026-11-02T03:04:05.000006+00:00"
    assert early is not None
    assert late is not None
    assert early < late
