"""The ``fault_ledger`` fixture of the reliability suite (see ``tests/fault_ledger.py``)."""

from __future__ import annotations

import pytest

from tests.fault_ledger import LEDGER, WORKER_OUTPUT_KEY, FaultLedger

__all__ = ["FaultLedger", "fault_ledger"]


@pytest.fixture
def fault_ledger() -> FaultLedger:
    """The session's fault ledger."""
    return LEDGER


def pytest_sessionfinish(session: pytest.Session) -> None:
    # A pytest-xdist worker hands its rows to the controller, which prints the ledger.
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[WORKER_OUTPUT_KEY] = LEDGER.export()
