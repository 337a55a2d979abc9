"""deploy/install.sh, run against a staging root so that the host stays untouched."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from watchdog.config import load_settings

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY / "deploy" / "install.sh"
BASH = shutil.which("bash") or "/bin/bash"


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    """A staging root with the account files that useradd --prefix edits."""
    root = tmp_path / "stage"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\n")
    return root


def run_install(stage: Path) -> subprocess.CompletedProcess[str]:
    # SKIP_VENV: building the virtual environment installs from the package index.
    environment = {**os.environ, "DESTDIR": str(stage), "SKIP_VENV": "1"}
    return subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, env=environment, check=False)


def test_script_syntax() -> None:
    completed = subprocess.run([BASH, "-n", str(SCRIPT)], capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stderr


def test_install_stages_user_source_config_and_unit(stage: Path) -> None:
    completed = run_install(stage)

    assert completed.returncode == 0, completed.stderr
    users = (stage / "etc/passwd").read_text().splitlines()
    service_user = [line for line in users if line.startswith("inference-watchdog:")]
    assert len(service_user) == 1
    assert service_user[0].endswith(":/var/lib/inference-watchdog:/usr/sbin/nologin")
    source = stage / "opt/inference-watchdog/src"
    assert (source / "pyproject.toml").is_file()
    assert (source / "watchdog/supervision/supervisor.py").is_file()
    assert (source / "migrations/env.py").is_file()
    assert not (source / ".venv").exists()
    assert not (source / ".git").exists()
    assert not (source / "tests").exists()
    config = stage / "etc/inference-watchdog/config.toml"
    assert config.read_text() == (REPOSITORY / "deploy/config.example.toml").read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert stat.S_IMODE((stage / "etc/inference-watchdog").stat().st_mode) == 0o750
    assert stat.S_IMODE((stage / "etc/inference-watchdog/credentials").stat().st_mode) == 0o700
    unit = stage / "etc/systemd/system/inference-watchdog.service"
    assert unit.read_text() == (REPOSITORY / "deploy/inference-watchdog.service").read_text()


def test_second_install_keeps_config_and_user(stage: Path) -> None:
    assert run_install(stage).returncode == 0
    config = stage / "etc/inference-watchdog/config.toml"
    config.write_text('mode = "production"\n')

    completed = run_install(stage)

    assert completed.returncode == 0, completed.stderr
    assert config.read_text() == 'mode = "production"\n'
    assert "kept the existing /etc/inference-watchdog/config.toml" in completed.stdout
    assert "user inference-watchdog exists" in completed.stdout
    users = (stage / "etc/passwd").read_text().splitlines()
    assert sum(1 for line in users if line.startswith("inference-watchdog:")) == 1


def test_example_config_is_valid() -> None:
    loaded = load_settings(REPOSITORY / "deploy/config.example.toml", environ={})

    assert loaded.settings.mode == "production"
    assert loaded.settings.supervision.memory.limit == 2 * 2**30
    assert loaded.embedded is False
