"""``inference-watchdog alerts``: silence, list and expire, on a real state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchdog.alerts.engine import AlertEngine
from watchdog.alerts.events import AlertEvent
from watchdog.cli import main
from watchdog.config import Settings
from watchdog.scheduler import utc_now
from watchdog.storage import open_store


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("INVOCATION_ID", "INFERENCE_WATCHDOG_STATE_DIR", "INFERENCE_WATCHDOG_MODE"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def invoke(runner: CliRunner, state_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(main, [*args, "--state-dir", str(state_dir)])
    return result.exit_code, result.output


def test_silence_list_expire_round_trip(runner: CliRunner, tmp_path: Path) -> None:
    code, output = invoke(
        runner,
        tmp_path,
        "alerts",
        "silence",
        "--match",
        "rule=latency_p99",
        "--match",
        "host=~web-.*",
        "--for",
        "2h",
        "--reason",
        "deploying v2",
    )
    silence_id = output.split()[1]
    listed_code, listed = invoke(runner, tmp_path, "alerts", "list", "--json")
    expired_code, expired = invoke(runner, tmp_path, "alerts", "expire", silence_id)
    after = json.loads(invoke(runner, tmp_path, "alerts", "list", "--json")[1])

    assert code == 0, output
    assert output.endswith(": rule=latency_p99 host=~web-.*\n")
    assert listed_code == 0
    silences = json.loads(listed)["silences"]
    assert [s["id"] for s in silences] == [silence_id]
    assert silences[0]["matchers"] == ["rule=latency_p99", "host=~web-.*"]
    assert silences[0]["reason"] == "deploying v2"
    assert expired_code == 0
    assert expired == f"silence {silence_id} expired\n"
    assert after["silences"] == []


def test_list_shows_firing_alerts(runner: CliRunner, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, mode="production")
    store = open_store(settings.resolved_database_url())
    engine = AlertEngine(store, settings, utc_now)
    engine.emit(
        AlertEvent(
            rule="queue_depth",
            labels={"host": "web-1"},
            severity="warning",
            state="firing",
            summary="queue depth 80",
            at=utc_now(),
        )
    )
    engine.process()
    store.close()

    code, output = invoke(runner, tmp_path, "alerts", "list")
    json_code, document = invoke(runner, tmp_path, "alerts", "list", "--json")

    assert code == 0
    assert "firing   warning  queue_depth {host=web-1}" in output
    assert json_code == 0
    alerts = json.loads(document)["alerts"]
    assert [(a["rule"], a["state"], a["announced"]) for a in alerts] == [
        ("queue_depth", "firing", False)
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--match", "rule", "--for", "2h", "--reason", "x"], "expected LABEL=VALUE"),
        (["--match", "rule=~(", "--for", "2h", "--reason", "x"], "does not compile"),
        (["--match", "rule=a", "--for", "2 parsecs", "--reason", "x"], "invalid duration"),
    ],
)
def test_silence_rejects_bad_input(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    code, output = invoke(runner, tmp_path, "alerts", "silence", *args)

    assert code == 2
    assert message in output


def test_expire_unknown_silence_fails(runner: CliRunner, tmp_path: Path) -> None:
    code, output = invoke(runner, tmp_path, "alerts", "expire", "deadbeef")

    assert code == 1
    assert "silence 'deadbeef' not found" in output
