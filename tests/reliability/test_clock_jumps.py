"""The wall clock steps an hour back and forth across a month's end; every outcome happens once.

The alert engine, the delivery job, the spend component, the monthly
report and the metric pipeline share one clock on a real migrated store,
with moto's server and the Slack double behind them. The clock runs in
10-second steps from 23:29 on 31 December, jumps to 00:31 on 1 January,
back to 23:33, and so on. Each step runs every job once, as the scheduler
would.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.reliability.cloudwatch_reads import heartbeat_counts
from tests.reliability.conftest import FaultLedger
from watchdog.alerts.component import AlertsComponent
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.daemon import DaemonContext, SharedServices
from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY, EmbeddedAws
from watchdog.embedded.slack_double import SlackDouble
from watchdog.metrics.component import build_pipeline
from watchdog.metrics.records import DROP_PREFIX, DROP_UNOBSERVED, read_counters
from watchdog.metrics.window import Window
from watchdog.reports.component import ReportComponent
from watchdog.slack import SlackClients
from watchdog.spend import repository
from watchdog.spend.component import SpendComponent
from watchdog.spend.cost_explorer import CostRow
from watchdog.storage import Store
from watchdog.storage.models import DaemonRun, MonthlyReportRecord, OutboxMessage

TOKEN = "xoxb-clock-jump-test-0001"
STEP = timedelta(seconds=10)
HOUR = timedelta(hours=1)
LABEL = re.compile(r"`(\w+)=([^`]*)`")


class JumpClock:
    """A wall clock the test moves by hand, forwards or backwards."""

    rate = 1.0

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


def put_day(store: Store, day: date, amount: str) -> None:
    """Store one day's cost as Cost Explorer would report it."""
    row = CostRow(day, "Amazon Elastic Compute Cloud - Compute", "Usage", Decimal(amount), True)
    with store.write_session() as session:
        repository.upsert_costs(
            session,
            [row],
            [],
            metric="UnblendedCost",
            source="cost_explorer",
            fetched_at=datetime.combine(day, datetime.min.time(), UTC),
        )


def billing_lines(messages: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """Count the (month, kind, level) of every billing threshold alert in the posted messages."""
    lines: Counter[tuple[str, str, str]] = Counter()
    for body in messages:
        for block in body.get("blocks") or []:
            text = block["text"]["text"] if block.get("type") == "section" else ""
            if " · spend_threshold · " not in text:
                continue
            labels = dict(LABEL.findall(text))
            lines[(labels["month"], labels["kind"], labels["level"])] += 1
    return lines


class Jobs:
    """Every job of the daemon that reads the clock, run once per step in scheduler order."""

    def __init__(self, context: DaemonContext, clock: JumpClock) -> None:
        self.clock = clock
        self.alerts = AlertsComponent(context)
        self.alerts.start()
        self.spend = SpendComponent(context)
        self.spend.start()
        self.report = ReportComponent(context)
        self.pipeline = build_pipeline(context)
        self.windows: list[Window] = []

    def run_for(self, duration: timedelta) -> None:
        end = self.clock.current + duration
        while self.clock.current < end:
            window = self.pipeline.tick()
            if window is not None:
                self.windows.append(window)
            self.pipeline.backfill()
            self.spend.evaluate()
            self.report.check()
            self.alerts.engine.process()
            self.alerts.delivery.run_once()
            self.clock.current += STEP


@pytest.fixture
def context(
    tmp_path: Path, store: Store, moto_server: EmbeddedAws, slack_double: SlackDouble
) -> DaemonContext:
    clock = JumpClock(datetime(2026, 12, 1, 0, 20, tzinfo=UTC))
    settings = Settings(
        mode="production",
        state_dir=tmp_path,
        # A namespace of its own on the session's shared moto server.
        aws={"endpoint_url": moto_server.endpoint_url, "namespace": f"ClockJumps{secrets.token_hex(4)}"},
        slack={"base_url": slack_double.base_url, "bot_token": TOKEN, "default_channel": "#alerts"},
        spend={
            "baseline_amount": "420",
            # Month-to-date lines only: the forecast needs more of the month than the test has.
            "forecast_min_elapsed": "40d",
            "anomaly_min_amount": "100000",
            "cost_explorer": {"enabled": False},
            "estimated_charges": {"enabled": False},
        },
        report={"time": "00:00"},
        alerts={"default_route": {"group_wait": "0s", "group_interval": "30s"}},
    )
    aws = AwsClients(
        settings.aws,
        access_key_id=EMBEDDED_ACCESS_KEY_ID,
        secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
    )
    with store.write_session() as session:
        # The daemon has watched since November, so November and December each get a summary.
        session.add(
            DaemonRun(
                pid=1,
                host_name=settings.host_name,
                started_at=datetime(2026, 11, 20, tzinfo=UTC),
                embedded=False,
                endpoints={},
                status_line="running",
            )
        )
    return DaemonContext(
        settings=settings,
        store=store,
        state_dir=tmp_path,
        aws=aws,
        slack=SlackClients(settings.slack),
        embedded=None,
        services=SharedServices(bill_clock=clock),
        now=clock.now,
    )


def test_clock_jumps_duplicate_nothing(
    context: DaemonContext,
    moto_server: EmbeddedAws,
    slack_double: SlackDouble,
    request: pytest.FixtureRequest,
    fault_ledger: FaultLedger,
) -> None:
    store = context.store
    clock = context.services.bill_clock
    assert isinstance(clock, JumpClock)
    jobs = Jobs(context, clock)
    jumps = 0

    # The November summary goes out on 1 December, as it would have.
    jobs.run_for(timedelta(seconds=30))
    put_day(store, date(2026, 12, 30), "560.00")
    put_day(store, date(2027, 1, 1), "510.00")
    clock.current = datetime(2026, 12, 31, 23, 29, tzinfo=UTC)
    jobs.run_for(2 * timedelta(minutes=1))
    before_jumps = billing_lines(slack_double.messages())
    # 23:31 -> 00:31 on the 1st: the December summary and January's warning.
    clock.current += HOUR
    jumps += 1
    jobs.run_for(2 * timedelta(minutes=1))
    # 00:33 -> 23:33 on the 31st, while December's bill crosses two more lines.
    clock.current -= HOUR
    jumps += 1
    put_day(store, date(2026, 12, 31), "80.00")
    jobs.run_for(2 * timedelta(minutes=1))
    after_back_jump = billing_lines(slack_double.messages())
    for _ in range(2):
        clock.current += HOUR
        jobs.run_for(timedelta(minutes=1))
        clock.current -= HOUR
        jobs.run_for(timedelta(minutes=1))
        jumps += 2
    # Forward once more and long enough for every group to be looked at again.
    clock.current += HOUR
    jumps += 1
    jobs.run_for(2 * timedelta(minutes=1))

    posted = billing_lines(slack_double.messages())
    expected_lines = {
        ("2026-12", "month_to_date", "warning"),
        ("2026-12", "month_to_date", "step-1"),
        ("2026-12", "month_to_date", "critical"),
        ("2027-01", "month_to_date", "warning"),
    }
    with store.session() as session:
        summaries = sorted(session.scalars(select(MonthlyReportRecord.month)))
        queued = [
            (row.kind, row.payload.get("text"), row.state)
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
        counters = read_counters(session)
    delivered = Counter(body.get("text") for body in slack_double.messages())
    uploads = [upload.filename for upload in slack_double.uploads()]
    lost_messages = [
        text for kind, text, _ in queued if kind == "message" and delivered[text] == 0
    ]
    repeated_messages = [text for kind, text, _ in queued if kind == "message" and delivered[text] > 1]
    starts = [window.start for window in jobs.windows]
    negative = [window for window in jobs.windows if window.seconds <= 0]
    repeated_windows = [start for start, count in Counter(starts).items() if count > 1]
    published = heartbeat_counts(
        moto_server,
        context.settings.aws.namespace,
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2027, 1, 2, tzinfo=UTC),
    )
    repeated_points = [start for start, count in published.items() if count > 1]

    lost = len(expected_lines - set(posted)) + len(lost_messages)
    duplicated = (
        sum(count - 1 for count in posted.values())
        + len(repeated_messages)
        + len(summaries) - len(set(summaries))
        + len(uploads) - len(set(uploads))
        + len(repeated_windows)
        + len(repeated_points)
    )
    fault_ledger.record(
        request,
        scenario="clock jumps",
        fault="wall clock stepped 1 h back or forward",
        injected=jumps,
        checked_item="billing lines, monthly summaries, outbox messages and metric windows",
        checked=len(expected_lines) + len(summaries) + len(queued) + len(starts),
        lost=lost,
        duplicated=duplicated,
    )

    assert jumps == 7
    assert set(posted) == expected_lines
    assert [count for count in posted.values()] == [1, 1, 1, 1]
    assert ("2026-12", "month_to_date", "warning") in before_jumps
    # Lines crossed after the clock went back are sent then, not an hour later.
    assert ("2026-12", "month_to_date", "critical") in after_back_jump
    assert summaries == ["2026-11", "2026-12"]
    assert sorted(uploads) == ["spend-2026-11.png", "spend-2026-12.png"]
    assert [state for _, _, state in queued] == ["sent"] * len(queued)
    assert lost_messages == []
    assert repeated_messages == []
    assert negative == []
    assert repeated_windows == []
    assert starts == sorted(starts)
    assert repeated_points == []
    assert counters[DROP_PREFIX + DROP_UNOBSERVED] > 0

