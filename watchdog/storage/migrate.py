"""Apply the Alembic migrations under ``migrations/``; the schema comes only from them."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from watchdog.errors import StorageError

logger = logging.getLogger(__name__)

# The package is installed in editable mode, so the migrations stay beside it
# in the source tree (deploy/install.sh installs it that way).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(engine: Engine) -> Config:
    """Build an Alembic config that runs on ``engine`` instead of a URL in alembic.ini."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise StorageError(
            f"migrations not found in {MIGRATIONS_DIR}: install inference-watchdog from its "
            "source tree (pip install -e), as deploy/install.sh does"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> list[str]:
    """Migrate the database to the newest revision and return the revisions now applied.

    On SQLite the migration takes the write lock at BEGIN, so a second
    process migrating at the same time (the daemon starting while
    ``status`` opens the new file) waits for the first and then finds
    nothing to do. A deferred BEGIN would fail at once with "database is
    locked" when both had read the schema before either wrote.
    """
    config = alembic_config(engine.execution_options(sqlite_begin="BEGIN IMMEDIATE"))
    try:
        command.upgrade(config, "heads")
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise StorageError(f"migrating {url} failed: {exc}") from exc
    logger.info("database schema at revision %s", ", ".join(sorted(current)))
    return sorted(current)


def pending_revisions(engine: Engine) -> list[str]:
    """Return the revisions that ``upgrade`` would still apply."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return []
    pending = []
    for revision in script.walk_revisions():
        if revision.revision not in current:
            applied_below = any(
                revision.revision in {r.revision for r in script.iterate_revisions(head, "base")}
                for head in current
            )
            if not applied_below:
                pending.append(revision.revision)
    return pending
