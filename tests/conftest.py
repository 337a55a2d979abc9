"""Fixtures shared by the whole suite: real servers on 127.0.0.1 and a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fault_ledger import LEDGER, WORKER_OUTPUT_KEY
from watchdog.aws import AwsClients
from watchdog.config.sections import AwsSettings
from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY, EmbeddedAws
from watchdog.embedded.slack_double import SlackDouble
from watchdog.storage import Store, open_store


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    # pytest-xdist's controller: collect the fault ledger rows of a finished worker.
    output = getattr(node, "workeroutput", None) or {}
    LEDGER.merge(output.get(WORKER_OUTPUT_KEY, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = LEDGER.summary_lines()
    if not lines:
        return
    terminalreporter.section("fault ledger")
    for line in lines:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedAws]:
    """moto's server on 127.0.0.1, shared by the session; tests use distinct names or reset it."""
    server = EmbeddedAws()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws_clients(moto_server: EmbeddedAws) -> AwsClients:
    """boto3 clients pointed at the moto server, with placeholder credentials."""
    settings = AwsSettings(endpoint_url=moto_server.endpoint_url, max_attempts=2)
    return AwsClients(
        settings, access_key_id=EMBEDDED_ACCESS_KEY_ID, secret_access_key=EMBEDDED_SECRET_ACCESS_KEY
    )


@pytest.fixture
def slack_double(tmp_path: Path) -> Iterator[SlackDouble]:
    """A Slack API double on 127.0.0.1 that logs to a file in the test's directory."""
    double = SlackDouble(log_path=tmp_path / "slack.jsonl")
    double.start()
    yield double
    double.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite file migrated to the newest schema by Alembic."""
    opened = open_store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    yield opened
    opened.close()
