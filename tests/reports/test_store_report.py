"""The monthly summary built from a real migrated store, posted to the Slack double, and scheduled once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.reports.fixtures import MIB, november_rollups, november_spend, october_spend
from tests.reports.test_chart_render import count_bars, png_size
from watchdog.alerts.counters import ANNOUNCED, SUPPRESSED, add_monthly_counts
from watchdog.alerts.delivery import DeliveryWorker, SlackSender
from watchdog.alerts.outbox import Outbox
from watchdog.aws import AwsClients
from watchdog.config import Settings, load_settings
from watchdog.config.sections import SlackSettings
from watchdog.daemon import DaemonContext
from watchdog.embedded.slack_double import SlackDouble
from watchdog.reports.component import ReportComponent, post_month
from watchdog.reports.figures import Month
from watchdog.slack import SlackClients
from watchdog.storage import Store
from watchdog.storage.models import (
    DaemonRun,
    MetricCounter,
    MetricRollup,
    OutboxMessage,
    SpendApiRequests,
    SpendBaseline,
    SpendDailyCost,
    WorkerEvent,
)

NOVEMBER = Month(2026, 11)
FETCHED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def seed_month(store: Store) -> None:
    """Write the fixture month (worked out by hand in test_figures) into the store."""
    with store.session() as session:
        for row in [*november_spend(), *october_spend()]:
            session.add(
                SpendDailyCost(
                    day=row.day,
                    service=row.service,
                    record_type=row.record_type,
                    amount=row.amount,
                    unit="USD",
                    estimated=row.estimated,
                    metric="UnblendedCost",
                    source="cost_explorer",
                    fetched_at=FETCHED,
                )
            )
        session.add(
            SpendBaseline(
                month="2026-11", amount=Decimal("250.00"), method="fixed", months=[], computed_at=FETCHED
            )
        )
        for rollup in november_rollups():
            session.add(
                MetricRollup(
                    minute=rollup.minute,
                    windows=6,
                    worker_up_windows=6,
                    request_count=rollup.requests,
                    error_count=rollup.errors,
                    latency_ms=[],
                    p50_ms=rollup.p50_ms,
                    p99_ms=rollup.p99_ms,
                    max_queue_depth=rollup.max_queue_depth,
                    max_in_flight=1.0,
                    max_memory_rss=int(rollup.max_memory_bytes or 0),
                    max_memory_per_request=None,
                )
            )
        events = [
            (datetime(2026, 10, 31, 23, 0, tzinfo=UTC), "starting", "running", None),
            (datetime(2026, 11, 10, 0, 0, tzinfo=UTC), "running", "backoff", "exit_status"),
            (datetime(2026, 11, 10, 6, 0, tzinfo=UTC), "backoff", "starting", None),
            (datetime(2026, 11, 10, 6, 0, 1, tzinfo=UTC), "starting", "running", None),
            (datetime(2026, 11, 20, 12, 0, tzinfo=UTC), "running", "backoff", "oom"),
            (datetime(2026, 11, 20, 12, 30, tzinfo=UTC), "backoff", "starting", None),
            (datetime(2026, 11, 20, 12, 30, tzinfo=UTC), "starting", "running", None),
        ]
        for at, from_state, to_state, exit_kind in events:
            session.add(
                WorkerEvent(
                    at=at, from_state=from_state, to_state=to_state, reason="test", exit_kind=exit_kind
                )
            )
        session.add(SpendApiRequests(month="2026-11", operation="GetCostAndUsage", requests=120))
        session.add(MetricCounter(month="2026-11", name="put_metric_data_requests", value=259_200))
        add_monthly_counts(
            session,
            {
                ("2026-11", "spend_threshold", ANNOUNCED): 2,
                ("2026-11", "worker_restart", ANNOUNCED): 2,
                ("2026-11", "worker_restart", SUPPRESSED): 7,
                ("2026-10", "worker_restart", SUPPRESSED): 99,
            },
        )


def report_settings(tmp_path: Path, **report: object) -> Settings:
    config = tmp_path / "config.toml"
    lines = [
        'mode = "production"',
        f'state_dir = "{tmp_path}"',
        "[report]",
        'inference_services = ["Amazon Elastic Compute Cloud - Compute"]',
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in report.items()]
    config.write_text("\n".join(lines) + "\n")
    return load_settings(config, environ={}).settings


def test_cli_json_report_from_store(tmp_path: Path, store: Store) -> None:
    seed_month(store)
    report_settings(tmp_path)
    chart = tmp_path / "chart.png"

    result = subprocess.run(
        [
            sys.executable, "-m", "watchdog", "--config", str(tmp_path / "config.toml"),
            "report", "monthly", "--month", "2026-11", "--format", "json", "--chart", str(chart),
        ],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["spend"]["total"] == "295.00"
    assert document["spend"]["percent_of_baseline"] == "118.0"
    assert [s["service"] for s in document["spend"]["top_services"]] == [
        "Amazon Elastic Compute Cloud - Compute",
        "AmazonCloudWatch",
    ]
    assert document["inferences"]["p99_ms"] == 80.0
    assert document["inferences"]["cost_per_1000"] == "300.0000"
    # down 6 h on the 10th and 30 min on the 20th, read from worker_events
    assert document["worker"] == {"uptime_percent": "99.10", "restarts": 2, "oom_kills": 1}
    assert document["alerts"] == {
        "sent": {"spend_threshold": 2, "worker_restart": 2},
        "suppressed": {"worker_restart": 7},
    }
    assert document["daemon_aws_usage"]["cost_explorer_requests"] == 120
    assert document["daemon_aws_usage"]["put_metric_data_requests"] == 259_200
    assert document["recommendations"]["memory_limit_bytes"] == 450 * MIB
    assert document["recommendations"]["rate_limit_per_second"] == "8.0"
    png = chart.read_bytes()
    assert png_size(png) == (1000, 400)
    assert count_bars(png) == 30


def deliver_all(store: Store, slack: SlackClients, settings: Settings, now: datetime) -> None:
    """Run the delivery job ten times, 5 s apart on a test clock, so paced messages all go out."""
    for step in range(10):
        moment = now + timedelta(seconds=5 * step)
        worker = DeliveryWorker(
            outbox=Outbox(store, "test"),
            sender=SlackSender(slack),
            delivery=settings.alerts.delivery,
            flood_guard=settings.alerts.flood_guard,
            now=lambda moment=moment: moment,  # type: ignore[misc]
        )
        worker.run_once()


def test_post_uses_blocks_and_three_step_upload(
    tmp_path: Path, store: Store, slack_double: SlackDouble
) -> None:
    seed_month(store)
    settings = report_settings(tmp_path)
    slack = SlackClients(
        SlackSettings(base_url=slack_double.base_url, bot_token=SecretStr("xoxb-report-test-1"))
    )
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    queued = post_month(store, settings, NOVEMBER, now, "test")
    deliver_all(store, slack, settings, now)

    assert queued is True
    methods = [r["method"] for r in slack_double.requests()]
    assert methods.count("chat.postMessage") == 1
    assert methods.count("files.getUploadURLExternal") == 1
    assert methods.count("files.completeUploadExternal") == 1
    assert len(slack_double.uploads()) == 1
    message = slack_double.messages()[0]
    assert len(message["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section")
    assert len(message["text"]) < 4000
    assert message["text"].startswith("Monthly summary for 2026-11")


def make_component(store: Store, settings: Settings, clock: Callable[[], datetime]) -> ReportComponent:
    context = DaemonContext(
        settings=settings,
        store=store,
        state_dir=settings.resolved_state_dir(),
        aws=AwsClients(settings.aws),
        slack=SlackClients(settings.slack),
        embedded=None,
        now=clock,
    )
    return ReportComponent(context)


def record_daemon_start(store: Store, at: datetime) -> None:
    with store.session() as session:
        session.add(DaemonRun(pid=1, host_name="test", started_at=at, embedded=False))


def test_daemon_down_on_first_posts_once(tmp_path: Path, store: Store) -> None:
    seed_month(store)
    settings = report_settings(tmp_path)
    record_daemon_start(store, datetime(2026, 10, 20, tzinfo=UTC))
    # The daemon was down all of 1 December and comes back on the 4th.
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)

    first = make_component(store, settings, lambda: now).check()
    again = make_component(store, settings, lambda: now + timedelta(minutes=5)).check()
    after_restart = make_component(store, settings, lambda: now + timedelta(days=3)).check()

    assert first == NOVEMBER
    assert again is None
    assert after_restart is None
    with store.session() as session:
        keys = sorted(m.dedup_key for m in session.query(OutboxMessage).all())
    assert keys == ["report:2026-11:chart", "report:2026-11:summary"]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 1, 8, 59, tzinfo=UTC), None),
        (datetime(2026, 12, 1, 9, 0, tzinfo=UTC), NOVEMBER),
    ],
)
def test_component_waits_for_posting_time(
    tmp_path: Path, store: Store, now: datetime, expected: Month | None
) -> None:
    settings = report_settings(tmp_path)
    record_daemon_start(store, datetime(2026, 11, 2, tzinfo=UTC))

    assert make_component(store, settings, lambda: now).check() == expected


def test_fresh_install_posts_no_summary(tmp_path: Path, store: Store) -> None:
    settings = report_settings(tmp_path)
    record_daemon_start(store, datetime(2026, 12, 4, 19, 0, tzinfo=UTC))

    queued = make_component(store, settings, lambda: datetime(2026, 12, 4, 20, 0, tzinfo=UTC)).check()

    assert queued is None
    with store.session() as session:
        assert session.query(OutboxMessage).count() == 0


def test_webhook_target_gets_no_chart(tmp_path: Path, store: Store) -> None:
    seed_month(store)
    settings = report_settings(tmp_path, channel="webhook:ops")

    post_month(store, settings, NOVEMBER, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "test")

    with store.session() as session:
        messages = session.query(OutboxMessage).all()
    assert [(m.dedup_key, m.target, m.kind) for m in messages] == [
        ("report:2026-11:summary", "webhook:ops", "message")
    ]
