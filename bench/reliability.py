"""Run the reliability suite and print its fault ledger as a Markdown table.

Usage: .venv/bin/python bench/reliability.py [PYTEST_ARGS...]

Runs ``pytest tests/reliability`` with the ledger written to a temporary
file, then prints one row per scenario: the fault, how many were injected,
what was checked afterwards, and how much was lost or duplicated. Extra
arguments go to pytest, for example ``-k kill`` for one scenario. The exit
status is pytest's, so a lost item fails this command as it fails the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

LEDGER_VARIABLE = "WATCHDOG_RELIABILITY_OUT"
ROOT = Path(__file__).resolve().parent.parent


def read_rows(path: Path) -> list[dict[str, object]]:
    """Return the ledger rows written by the suite, in the order they were recorded."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def format_table(rows: list[dict[str, object]]) -> str:
    """Return the rows as a Markdown table, with thousands separators in the counts."""
    lines = [
        "| scenario | fault | injected | checked afterwards | lost | duplicated |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    for row in rows:
        checked = f"{int(str(row['checked'])):,} {row['checked_item']}"
        lines.append(
            f"| {row['scenario']} | {row['fault']} | {int(str(row['injected'])):,} | {checked} "
            f"| {row['lost']} | {row['duplicated']} |"
        )
    return "\n".join(lines)


def main(arguments: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="reliability-") as directory:
        ledger = Path(directory) / "ledger.jsonl"
        environment = {**os.environ, LEDGER_VARIABLE: str(ledger)}
        command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", *arguments]
        completed = subprocess.run(command, cwd=ROOT, env=environment, check=False)
        rows = read_rows(ledger)
    print()
    print(format_table(rows))
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
