"""The SQLite store: engine and sessions, typed models, and Alembic migrations."""

from __future__ import annotations

from watchdog.storage.engine import Store
from watchdog.storage.migrate import upgrade

__all__ = ["Store", "open_store"]


def open_store(url: str, migrate: bool = True) -> Store:
    """Open the store at ``url`` and, unless told not to, bring its schema up to date."""
    store = Store.open(url)
    if migrate:
        upgrade(store.engine)
    return store
