"""SIGKILL the daemon 20 times during a run with traffic and billing alerts, and count what survived.

moto's server and the Slack double run in the test process, so their data
outlives every kill. The daemon runs as a subprocess (``daemon_process``)
on the simulated bill's fast clock and restarts after each kill with the
same state directory. Afterwards:

- every billing threshold the store recorded as crossed, and every message
  the outbox accepted, is in the Slack double's log exactly once;
- every 10-second window from the first to the last one recorded is in
  CloudWatch, or counted in the daemon's drop counters;
- ``PRAGMA integrity_check`` returns ``ok`` after every kill.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from tests.embedded.test_bill_run import announced, recorded
from tests.reliability.cloudwatch_reads import heartbeat_counts
from tests.reliability.conftest import FaultLedger
from watchdog.embedded.aws import EmbeddedAws
from watchdog.embedded.slack_double import SlackDouble
from watchdog.metrics.records import DROP_PREFIX, LAST_WINDOW, read_counters, read_state
from watchdog.storage import Store, open_store
from watchdog.storage.models import OutboxMessage, WorkerStatus
from watchdog.worker.digits import load_samples
from watchdog.worker.loadgen import LoadPlan, run_load

KILLS = 20
# Real seconds per simulated day: the month passes in about 77 s, during the kills.
SECONDS_PER_DAY = "2.5"
# Each daemon process lives this long (seconds) before its SIGKILL, drawn uniformly.
LIFETIME_RANGE = (2.0, 6.0)
SEED_VARIABLE = "RELIABILITY_KILL_SEED"
DEADLINE_SECONDS = 90.0
# moto's servers in one process share their data, so the run publishes under a namespace of its own.
NAMESPACE = f"KillTest{secrets.token_hex(4)}"
INTERVAL = timedelta(seconds=10)


def clean_env() -> dict[str, str]:
    """The test's environment without systemd markers or watchdog settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }


class DaemonRunner:
    """Starts, kills and stops daemon subprocesses on one state directory."""

    def __init__(self, state_dir: Path, aws: EmbeddedAws, slack: SlackDouble, log: Path) -> None:
        self.state_dir = state_dir
        self._arguments = [str(state_dir), aws.endpoint_url, slack.base_url, SECONDS_PER_DAY, NAMESPACE]
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.daemon_process", *self._arguments],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                cwd=Path(__file__).resolve().parents[2],
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def integrity(database: Path) -> str:
    """Return the first line of ``PRAGMA integrity_check`` on a database no process is writing."""
    if not database.exists():
        return "ok"
    connection = sqlite3.connect(database)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def read_store(state_dir: Path, read: Callable[[Store], Any]) -> Any:
    """Open the daemon's database without migrating it and return ``read(store)``, or None."""
    database = state_dir / "watchdog.db"
    if not database.exists():
        return None
    store = open_store(f"sqlite:///{database}", migrate=False)
    try:
        return read(store)
    except SQLAlchemyError:
        # The daemon may still be creating or migrating the database.
        return None
    finally:
        store.close()


def worker_url(store: Store) -> str | None:
    with store.session() as session:
        row = session.scalars(select(WorkerStatus)).first()
        if row is None or row.state != "running" or not row.metrics_url:
            return None
        return row.metrics_url.rsplit("/", 1)[0]


class Traffic:
    """Short load bursts against whichever worker the current daemon supervises."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._samples = load_samples()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.statuses: Counter[str] = Counter()

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            url = read_store(self._state_dir, worker_url)
            if url is None:
                self._stop.wait(0.5)
                continue
            plan = LoadPlan(url=url, rate=6, concurrency=2, duration=2.0, timeout=2.0)
            result = run_load(plan, self._samples)
            self.statuses.update(result.status_counts)


def outbox_texts(store: Store) -> list[str]:
    """Return the text of every chat message the outbox accepted, whatever its state."""
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row.payload["text"] for row in rows if "text" in row.payload]


def outbox_unfinished(store: Store) -> int:
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage.state))
        return sum(1 for state in rows if state in ("pending", "sending"))


def metric_counters(store: Store) -> tuple[dict[str, int], dict[str, str | None]]:
    with store.session() as session:
        return read_counters(session), read_state(session)



def billing_announcements(state_dir: Path) -> Counter[tuple[str, str]]:
    """Count the billing alerts in the Slack double's log by (kind, level), as the store keys them.

    A daily anomaly is stored with its day as the level.
    """
    posted: Counter[tuple[str, str]] = Counter(
        (kind, level) for kind, level, _ in announced(state_dir)
    )
    # Sorted by label name, an anomaly's labels are (day, month).
    posted.update(("daily_anomaly", day) for day, _ in announced(state_dir, "spend_daily_anomaly"))
    return posted


def unannounced(state_dir: Path) -> list[tuple[str, str]]:
    """Return the billing lines and anomaly days the store recorded that Slack never received."""
    posted = billing_announcements(state_dir)
    return [line for line in recorded(state_dir) if posted[line] == 0]


def wait_for(check: Callable[[], bool], timeout: float = DEADLINE_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[EmbeddedAws, SlackDouble, Path]]:
    """A moto server and a Slack double of this test's own, outside the daemon's process."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    aws = EmbeddedAws()
    aws.start()
    slack = SlackDouble(log_path=state_dir / "slack-double.jsonl")
    slack.start()
    yield aws, slack, state_dir
    slack.stop()
    aws.stop()


def test_daemon_sigkill_loses_nothing(
    stand_ins: tuple[EmbeddedAws, SlackDouble, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    fault_ledger: FaultLedger,
) -> None:
    aws, slack, state_dir = stand_ins
    seed = int(os.environ.get(SEED_VARIABLE) or random.SystemRandom().randrange(2**32))
    print(f"kill seed {seed} (set {SEED_VARIABLE}={seed} to repeat these kill moments)")
    rng = random.Random(seed)
    lifetimes = [rng.uniform(*LIFETIME_RANGE) for _ in range(KILLS)]
    daemon = DaemonRunner(state_dir, aws, slack, tmp_path / "daemon.log")
    database = state_dir / "watchdog.db"
    damaged = []

    began = time.monotonic()
    with Traffic(state_dir) as traffic:
        for number, lifetime in enumerate(lifetimes, start=1):
            daemon.start()
            time.sleep(lifetime)
            daemon.kill()
            result = integrity(database)
            if result != "ok":
                damaged.append((number, result))
        killed_at = time.monotonic()
        print(f"{KILLS} kills in {killed_at - began:.1f} s")
        daemon.start()
        try:
            # The simulated month has ended; wait until every crossed line went out and
            # the spool is empty, then for two more windows.
            settled = wait_for(
                lambda: bool(recorded(state_dir))
                and not unannounced(state_dir)
                and read_store(state_dir, outbox_unfinished) == 0
            )
            print(f"settled {time.monotonic() - killed_at:.1f} s after the last kill")
            until = datetime.now(UTC) + 2 * INTERVAL
            wait_for(lambda: datetime.now(UTC) > until)
        finally:
            exit_status = daemon.stop()
    damaged += [(KILLS + 1, result) for result in [integrity(database)] if result != "ok"]

    # Billing alerts: each line or anomaly day the store recorded, announced exactly once.
    crossed = recorded(state_dir)
    posted = billing_announcements(state_dir)
    lost_thresholds = unannounced(state_dir)
    repeated_thresholds = [line for line, count in posted.items() if count > 1]

    # Outbox: every accepted chat message in the Slack log exactly once.
    queued = read_store(state_dir, outbox_texts)
    delivered = Counter(body.get("text") for body in slack.messages())
    lost_messages = [text for text in queued if delivered[text] == 0]
    repeated_messages = [text for text in queued if delivered[text] > 1]

    # Metric windows: first window in CloudWatch to the last window recorded.
    counters, metric_state = read_store(state_dir, metric_counters)
    last_window = datetime.fromisoformat(str(metric_state[LAST_WINDOW]))
    found = heartbeat_counts(aws, NAMESPACE, last_window - timedelta(minutes=10), last_window + INTERVAL)
    first_window = min(found)
    expected = [
        first_window + INTERVAL * index
        for index in range((last_window - first_window) // INTERVAL + 1)
    ]
    missing = [start for start in expected if start not in found]
    dropped = sum(value for name, value in counters.items() if name.startswith(DROP_PREFIX))
    lost_windows = max(len(missing) - dropped, 0)
    repeated_windows = [start for start, count in found.items() if count > 1]

    lost = len(lost_thresholds) + len(lost_messages) + lost_windows
    duplicated = (
        len(repeated_thresholds) + len(repeated_messages) + len(repeated_windows)
    )
    checked = len(crossed) + len(queued) + len(expected)
    fault_ledger.record(
        request,
        scenario="daemon killed",
        fault="SIGKILL of the daemon",
        injected=KILLS,
        checked_item="billing lines, outbox messages and metric windows",
        checked=checked,
        lost=lost,
        duplicated=duplicated,
    )
    print(
        f"kills {KILLS}, billing lines {len(crossed)}, outbox messages {len(queued)}, "
        f"windows {len(expected)} ({len(missing)} missing, {dropped} counted as dropped), "
        f"traffic {dict(traffic.statuses)}"
    )

    assert settled, unannounced(state_dir)
    assert exit_status == 0
    assert damaged == []
    assert len(crossed) >= 3
    assert lost_thresholds == []
    assert repeated_thresholds == []
    assert lost_messages == []
    assert repeated_messages == []
    assert lost_windows == 0, (missing, counters)
    assert repeated_windows == []
    assert sum(count for status, count in traffic.statuses.items() if status.startswith("2")) > 0
