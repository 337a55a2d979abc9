"""deploy/config.example.toml: generated from the settings model, complete, and accepted by check-config."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from watchdog.config import load_settings
from watchdog.config.example import render
from watchdog.config.model import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = REPOSITORY / "deploy" / "config.example.toml"
REGENERATE = ".venv/bin/python -m watchdog.config.example deploy/config.example.toml"

# A table header, written or commented out: "[alerts.flood_guard]", "# [[alerts.routes]]".
HEADER = re.compile(r"^(?:# )?\[\[?([A-Za-z0-9_.]+)\]\]?$")
# A setting, written or commented out, or the note that replaces a secret.
SETTING = re.compile(r"^(?:# )?([A-Za-z0-9_]+)(?: = | is a secret and is not written here)")


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment without systemd credentials or watchdog settings."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY"}
    }
    environ.update(extra)
    return environ


def leaf_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Yield the dotted path of every setting that is not a section."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaf_paths(annotation, f"{path}.")
        else:
            yield path


def paths_in_file(text: str) -> set[str]:
    """Return the dotted paths of the settings that the file writes or shows commented."""
    table = ""
    found = set()
    for line in text.splitlines():
        header = HEADER.match(line)
        if header is not None:
            table = header.group(1)
            continue
        setting = SETTING.match(line)
        if setting is not None:
            found.add(f"{table}.{setting.group(1)}" if table else setting.group(1))
    return found


def test_example_matches_model() -> None:
    expected = render()

    assert EXAMPLE.read_text(encoding="utf-8") == expected, (
        f"deploy/config.example.toml is stale: run {REGENERATE}"
    )


def test_example_lists_every_setting() -> None:
    found = paths_in_file(EXAMPLE.read_text(encoding="utf-8"))

    missing = sorted(set(leaf_paths(Settings)) - found)

    assert missing == [], f"settings missing from deploy/config.example.toml: {missing}; run {REGENERATE}"


def test_example_keeps_secrets_out() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")

    assert "xoxb-" not in text.replace("(xoxb-...)", "")
    assert "hooks.slack.com" not in text
    assert "aws_access_key_id" not in text.lower()
    assert "# bot_token is a secret and is not written here" in text


def test_example_route_uncommented_is_valid(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("# [[alerts.routes]]")
    end = text.index("\n\n", start)
    route = "\n".join(line.removeprefix("# ") for line in text[start:end].splitlines())
    config = tmp_path / "config.toml"
    config.write_text(text[:start] + route + text[end:], encoding="utf-8")

    routes = load_settings(config, environ={}).settings.alerts.routes

    assert len(routes) == 1
    assert routes[0].name == "pager"
    assert routes[0].target == "#oncall"
    assert routes[0].severities == ("critical",)


def test_check_config_accepts_example_and_notes_missing_token() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "watchdog", "check-config", "--config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(
        f"# configuration from {EXAMPLE}; the daemon would run in production mode\n"
    )
    assert 'limit = 2147483648' in completed.stdout
    # A fresh host has no token outside the unit; check-config prints a note and still passes.
    assert completed.stderr == (
        "inference-watchdog: note: slack.bot_token is not set here, and messages to "
        "#inference-alerts need it. Under systemd the unit loads it from "
        "/etc/inference-watchdog/credentials/slack.bot_token, which this command does not "
        "read; elsewhere set INFERENCE_WATCHDOG_SLACK__BOT_TOKEN.\n"
    )


def test_check_config_with_token_prints_no_note() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "watchdog", "check-config", "--config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=cli_env(INFERENCE_WATCHDOG_SLACK__BOT_TOKEN="xoxb-0000-test"),
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "xoxb-0000-test" not in completed.stdout
