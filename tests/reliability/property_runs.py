"""Shared parts of the bad-input properties: Hypothesis settings, a case tally, the ledger row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

from tests.reliability.conftest import FaultLedger

# Every property runs at least this many generated cases in the normal test command.
MIN_CASES = 1000

# A fixed, repeatable run: derandomized, no example database, no deadline on a loaded machine.
PROPERTY_SETTINGS = settings(
    max_examples=MIN_CASES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@dataclass
class Tally:
    """Cases a property ran, and how many of them failed (crashed or parsed a wrong value)."""

    cases: int = 0
    failed: int = 0

    @contextmanager
    def case(self) -> Iterator[None]:
        """Count one case, and count it as failed if its body raises."""
        self.cases += 1
        try:
            yield
        except BaseException:
            self.failed += 1
            raise


def run_property(
    request: pytest.FixtureRequest,
    ledger: FaultLedger,
    adapter: str,
    check: Callable[[], None],
    tally: Tally,
) -> None:
    """Run a Hypothesis property, record its counts in the fault ledger, then assert on them."""
    try:
        check()
    finally:
        ledger.record(
            request,
            scenario=f"bad input: {adapter}",
            fault="generated input",
            injected=tally.cases,
            checked_item="inputs rejected with a clear error or parsed exactly",
            checked=tally.cases - tally.failed,
            lost=tally.failed,
        )
    assert tally.cases >= MIN_CASES
    assert tally.failed == 0
