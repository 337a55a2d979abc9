"""The fault ledger: every reliability test records what it injected and what it counted.

Each test asserts zero loss itself. The ledger only collects the counts, so
that the session can print them as one table, also when pytest-xdist
spreads the tests over worker processes. With ``WATCHDOG_RELIABILITY_OUT`` set to a
file path, each row is also appended there as a JSON line, which
``bench/reliability.py`` turns into the table in ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

OUTPUT_VARIABLE = "WATCHDOG_RELIABILITY_OUT"
# Key of the rows in a pytest-xdist worker's output to the controller.
WORKER_OUTPUT_KEY = "fault_ledger"


@dataclass(frozen=True)
class FaultRecord:
    """One scenario's counts: faults injected, items checked, and items lost or duplicated."""

    scenario: str
    fault: str
    injected: int
    # What the test counted after the faults, such as "alerts delivered".
    checked_item: str
    checked: int
    lost: int
    duplicated: int
    test: str


class FaultLedger:
    """The rows recorded during the session, in test order."""

    def __init__(self) -> None:
        self.records: list[FaultRecord] = []

    def record(
        self,
        request: pytest.FixtureRequest,
        *,
        scenario: str,
        fault: str,
        injected: int,
        checked_item: str,
        checked: int,
        lost: int,
        duplicated: int = 0,
    ) -> FaultRecord:
        """Add one row; call it after the counts are taken and before asserting on them."""
        row = FaultRecord(
            scenario=scenario,
            fault=fault,
            injected=injected,
            checked_item=checked_item,
            checked=checked,
            lost=lost,
            duplicated=duplicated,
            test=request.node.nodeid,
        )
        self.records.append(row)
        destination = os.environ.get(OUTPUT_VARIABLE)
        if destination:
            # Written at once, so rows survive a crashed session.
            with Path(destination).open("a", encoding="utf-8") as output:
                output.write(json.dumps(asdict(row)) + "\n")
        return row

    def export(self) -> list[dict[str, Any]]:
        """Return the rows as plain dictionaries, for a worker's output to the controller."""
        return [asdict(row) for row in self.records]

    def merge(self, rows: list[dict[str, Any]]) -> None:
        """Add rows exported by a worker process, without writing them to the output file again."""
        self.records.extend(FaultRecord(**row) for row in rows)

    def summary_lines(self) -> list[str]:
        """Return one line per row, as the terminal summary prints them."""
        return [
            f"{row.scenario}: {row.injected} x {row.fault}; {row.checked} {row.checked_item} "
            f"checked, {row.lost} lost, {row.duplicated} duplicated"
            for row in self.records
        ]


LEDGER = FaultLedger()
