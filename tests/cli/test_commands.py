"""The command line, run as a user runs it: real subprocesses, real servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from watchdog.config import load_settings
from watchdog.embedded.aws import EmbeddedAws
from watchdog.embedded.slack_double import SlackDouble
from watchdog.slack import SlackClients

COMMAND = [sys.executable, "-m", "watchdog"]


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment without systemd markers or watchdog settings."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }
    environ.update(extra)
    return environ


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, env=env or cli_env(), timeout=120, check=False
    )


def wait_for_status(
    state_dir: Path, ready: Any, timeout: float = 60.0, log: Path | None = None
) -> dict[str, Any]:
    """Poll ``status --json`` until ``ready(document)`` is true; a failure shows the end of ``log``."""
    deadline = time.monotonic() + timeout
    document: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = run_cli("status", "--json", "--state-dir", str(state_dir))
        if result.returncode == 0:
            document = json.loads(result.stdout)
            if ready(document):
                return document
        time.sleep(0.5)
    tail = log.read_text(errors="replace").splitlines()[-30:] if log is not None and log.exists() else []
    ending = "\n".join(tail)
    raise AssertionError(f"status never became ready: {document!r}\nthe daemon's log ends:\n{ending}")


def test_check_config_invalid_duration_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[daemon]\nheartbeat_interval = "5 parsecs"\n')

    result = run_cli("check-config", "--config", str(config))

    assert result.returncode == 2
    assert "invalid daemon.heartbeat_interval '5 parsecs'" in result.stderr
    assert result.stdout == ""


def test_check_config_prints_effective_settings(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('mode = "production"\nservice_name = "digits"\n[daemon]\nshutdown_timeout = 90\n')

    result = run_cli("check-config", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert 'service_name = "digits"' in result.stdout
    assert 'shutdown_timeout = "1m30s"' in result.stdout
    assert "production mode" in result.stdout


def test_run_under_systemd_without_config_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "run", "--for", "5s", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=cli_env(INVOCATION_ID="0123456789abcdef"),
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert 'mode = "embedded"' in result.stderr


def test_embedded_run_shows_status_and_stops(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    # Files, not pipes: the test reads nothing until the daemon ends, and a full pipe
    # would block the daemon's logging.
    stdout_path, stderr_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout_path.open("w") as stdout_file, stderr_path.open("w") as stderr_file:
        process = subprocess.Popen(
            [*COMMAND, "run", "--for", "30s", "--state-dir", str(state_dir)],
            stdout=stdout_file,
            stderr=stderr_file,
            text=True,
            # The simulated bill and the demo would post alerts; this test expects only auth.test.
            env=cli_env(
                INFERENCE_WATCHDOG_SPEND__EMBEDDED_BILL__ENABLED="false",
                INFERENCE_WATCHDOG_DEMO__TRAFFIC="false",
                INFERENCE_WATCHDOG_DEMO__WORKER_FAULT="false",
            ),
        )
    try:
        document = wait_for_status(
            state_dir,
            lambda d: d["daemon"]["running"]
            and d["jobs"].get("slack-auth-check", {}).get("last_outcome") == "ok",
            log=stderr_path,
        )
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    stdout, stderr = stdout_path.read_text(), stderr_path.read_text()

    assert process.returncode == 0, stderr
    assert document["daemon"]["pid"] == process.pid
    assert document["daemon"]["mode"] == "embedded"
    assert document["daemon"]["started_at"].endswith("+00:00")
    embedded = document["embedded"]
    assert embedded["aws_endpoint"].startswith("http://127.0.0.1:")
    assert embedded["slack_endpoint"].startswith("http://127.0.0.1:")
    assert embedded["slack_log"] == str(state_dir / "slack-double.jsonl")
    assert document["jobs"]["slack-auth-check"]["runs"] == 1
    assert "embedded default" in stdout
    assert "summary:" in stdout
    slack_log = [json.loads(line) for line in (state_dir / "slack-double.jsonl").read_text().splitlines()]
    assert [entry["method"] for entry in slack_log] == ["auth.test"]


def test_sigterm_stops_daemon_cleanly(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr_file:
        # A file, not a pipe: the test reads nothing until the daemon exits, and a full
        # pipe would block the daemon's logging.
        process = subprocess.Popen(
            [*COMMAND, "run", "--state-dir", str(state_dir)],
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            text=True,
            env=cli_env(),
        )
    try:
        wait_for_status(state_dir, lambda d: d["daemon"]["running"], log=stderr_path)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = stderr_path.read_text()

    assert process.returncode == 0
    assert "received SIGTERM, stopping" in stderr
    assert "daemon stopped" in stderr
    final = json.loads(run_cli("status", "--json", "--state-dir", str(state_dir)).stdout)
    assert final["daemon"]["running"] is False
    assert final["daemon"]["stopped_at"] is not None


def test_slack_token_never_appears_in_output(
    tmp_path: Path, moto_server: EmbeddedAws, slack_double: SlackDouble
) -> None:
    token = "xoxb-1111-2222-verysecrettokenvalue"
    webhook = "http://127.0.0.1:9/services/T000/B000/verysecretwebhookpath"
    state_dir = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(
        'mode = "production"\nlog_level = "DEBUG"\n'
        f'state_dir = "{state_dir}"\n'
        f'[aws]\nendpoint_url = "{moto_server.endpoint_url}"\n'
        f'[slack]\nbase_url = "{slack_double.base_url}"\n'
        f'[slack.webhooks]\nops = "{webhook}"\n'
    )
    env = cli_env(
        INFERENCE_WATCHDOG_SLACK__BOT_TOKEN=token,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )

    checked = run_cli("--config", str(config), "check-config", env=env)
    process = subprocess.Popen(
        [*COMMAND, "--config", str(config), "run", "--for", "6s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    stdout, stderr = process.communicate(timeout=60)
    status = run_cli("--config", str(config), "status", "--json", env=env)
    status_text = run_cli("--config", str(config), "status", env=env)
    os.environ["INFERENCE_WATCHDOG_SLACK__BOT_TOKEN"] = token
    try:
        settings = load_settings(config, environ={}).settings
    finally:
        del os.environ["INFERENCE_WATCHDOG_SLACK__BOT_TOKEN"]

    assert checked.returncode == 0
    assert process.returncode == 0, stderr
    assert status.returncode == 0
    assert "DEBUG" in stderr  # the daemon did log at the most verbose level
    assert len(slack_double.requests("auth.test")) == 1  # and it did use the token
    outputs = {
        "check-config": checked.stdout + checked.stderr,
        "run": stdout + stderr,
        "status --json": status.stdout + status.stderr,
        "status": status_text.stdout + status_text.stderr,
        "repr(settings)": repr(settings),
        "repr(clients)": repr(SlackClients(settings.slack)),
        "slack double log": (tmp_path / "slack.jsonl").read_text(),
    }
    for name, text in outputs.items():
        assert token not in text, name
        assert "verysecretwebhookpath" not in text, name
