"""The SQLAlchemy engine and sessions of the store.

SQLite runs in WAL mode so that ``status`` can read while the daemon writes,
with a busy timeout so that short write locks wait instead of failing, and
with foreign keys enforced. Transactions are started by SQLAlchemy, not by
the ``sqlite3`` module's implicit BEGIN, so a transaction that reads and then
writes can ask for ``BEGIN IMMEDIATE`` and take the write lock up front.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from watchdog.errors import StorageError
from watchdog.storage.health import StorageHealth

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    # Turn off the driver's own transaction handling; the "begin" hook below
    # emits BEGIN itself (SQLAlchemy's documented recipe for pysqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable against a killed process in WAL mode; only a power
    # loss can drop the last commits.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    statement = connection.get_execution_options().get("sqlite_begin", "BEGIN")
    connection.exec_driver_sql(statement)


def create_store_engine(url: str) -> Engine:
    """Create the engine for ``url``; for SQLite, create the file's directory and set pragmas."""
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"

    if is_sqlite and parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the database directory {Path(parsed.database).parent}: "
                f"{exc.strerror}; set state_dir or database_url to a writable place"
            ) from exc

    engine = create_engine(url, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


class Store:
    """The database: an engine and two session factories.

    ``session()`` is for reads and simple writes; ``write_session()`` takes
    SQLite's write lock at BEGIN, for transactions that read and then write
    (claims, upserts, counters) and must not fail half-way with "database is
    locked". ``health`` tracks stretches of failed writes (a full disk, a
    read-only file) for the whole daemon.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.health = StorageHealth()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        immediate = engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._write_sessions = sessionmaker(immediate, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        """Open the store at ``url`` without migrating it."""
        return cls(create_store_engine(url))

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """Yield a session whose transaction holds the write lock from its start."""
        with self._write_sessions.begin() as session:
            yield session

    def check(self) -> str:
        """Run SQLite's integrity check and return its verdict (``ok`` when healthy)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.exec_driver_sql("PRAGMA integrity_check").fetchall()
        except SQLAlchemyError as exc:
            raise StorageError(f"integrity check of {self.url} failed: {exc}") from exc
        return "; ".join(str(row[0]) for row in rows)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
