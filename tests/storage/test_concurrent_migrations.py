"""Migrating one database from several processes at once: every process succeeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from watchdog.storage import open_store

MIGRATE = "import sys; from watchdog.storage import open_store; open_store(sys.argv[1]).close()"


def test_concurrent_migrations_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'watchdog.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [process.communicate(timeout=120) for process in processes]

    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr
    store = open_store(url)
    try:
        with store.session() as session:
            versions = session.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
    finally:
        store.close()
    assert versions == 1
