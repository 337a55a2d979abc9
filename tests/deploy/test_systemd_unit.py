"""The systemd unit passes ``systemd-analyze verify`` cleanly and rates as well sandboxed."""

from __future__ import annotations

import re
import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "inference-watchdog.service"
EXEC_START = "/opt/inference-watchdog/venv/bin/inference-watchdog"
HOST_UNITS = Path("/usr/lib/systemd/system")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"

# The exposure level that docs/operations.md records for this unit.
MAX_EXPOSURE = 2.5


def staged_root(tmp_path: Path) -> Path:
    """Build a root directory with the unit, a stand-in ExecStart and the host's own units.

    ``verify --root`` checks that ExecStart exists and resolves dependencies
    such as sysinit.target inside that root, so nothing on the host is touched.
    """
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system" / UNIT.name)
    executable = root / EXEC_START.lstrip("/")
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    return root


def test_unit_verifies_without_output(tmp_path: Path) -> None:
    root = staged_root(tmp_path)

    completed = subprocess.run(
        [
            SYSTEMD_ANALYZE,
            "verify",
            f"--root={root}",
            str(root / "etc/systemd/system" / UNIT.name),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    # verify exits 0 on unknown keys and only prints a warning, so any output fails.
    assert completed.stdout == ""
    assert completed.stderr == ""
    assert completed.returncode == 0


def test_unit_exposure_at_most_limit() -> None:
    completed = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    match = re.search(r"Overall exposure level for inference-watchdog\.service: (\d+\.\d)", completed.stdout)
    assert match is not None, completed.stdout
    assert float(match.group(1)) <= MAX_EXPOSURE


def test_operations_doc_records_score() -> None:
    completed = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"exposure level for inference-watchdog\.service: (\d+\.\d)", completed.stdout)
    assert match is not None
    operations = (UNIT.parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")

    assert f"exposure level of **{match.group(1)}**" in operations


def test_unit_has_required_settings() -> None:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    service = parser["Service"]

    assert service["Type"] == "notify"
    assert service["ExecStart"] == f"{EXEC_START} run"
    assert service["Restart"] == "on-failure"
    assert service["OOMPolicy"] == "continue"
    assert service["WatchdogSec"] == "60s"
    assert service["User"] == "inference-watchdog"
    assert service["StateDirectory"] == "inference-watchdog"
    assert service["ConfigurationDirectory"] == "inference-watchdog"
    assert service["LoadCredential"].startswith("slack.bot_token:")
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
