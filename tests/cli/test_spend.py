"""``inference-watchdog spend``: show, baseline set and import, on a real state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.scheduler import utc_now
from watchdog.spend.calendar import month_key, previous_month_start
from watchdog.storage import open_store
from watchdog.storage.models import SpendDailyCost


@pytest.fixture(autouse=True)
def outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def stored_rows(state_dir: Path) -> int:
    store = open_store(f"sqlite:///{state_dir / 'watchdog.db'}")
    try:
        with store.session() as session:
            return session.query(SpendDailyCost).count()
    finally:
        store.close()


def test_import_with_bad_row_writes_nothing(tmp_path: Path) -> None:
    csv_file = tmp_path / "costs.csv"
    csv_file.write_text(
        "date,service,amount\n"
        "2026-09-01,Amazon EC2,13.50\n"
        "2026-09-02,Amazon EC2,13.75\n"
        "2026-09-03,Amazon EC2,thirteen\n"
        "2026-09-04,Amazon EC2,13.10\n"
    )

    status, output = invoke("spend", "import", str(csv_file), "--state-dir", str(tmp_path))

    assert status == 1
    assert f"nothing imported: {csv_file} line 4, column 'amount': invalid amount 'thirteen'" in output
    assert stored_rows(tmp_path) == 0


def test_import_then_show_month(tmp_path: Path) -> None:
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "Service,EC2-Instances($),S3($),Total costs($)\n"
        "Service total,26.00,1.00,27.00\n"
        "2026-09-01,13.00,0.50,13.50\n"
        "2026-09-02,13.00,0.50,13.50\n"
    )

    status, output = invoke("spend", "import", str(csv_file), "--state-dir", str(tmp_path))
    shown_status, shown = invoke(
        "spend", "show", "--month", "2026-09", "--json", "--state-dir", str(tmp_path)
    )

    assert status == 0
    assert output.strip() == "imported 4 rows for 2 days, 2026-09-01 to 2026-09-02, totalling $27.00"
    assert shown_status == 0
    document = json.loads(shown)
    assert document["month"] == "2026-09"
    assert document["month_to_date"] == "27.00"
    assert document["services"] == {"EC2-Instances": "26.00", "S3": "1.00"}
    assert document["days"] == {"2026-09-01": "13.50", "2026-09-02": "13.50"}
    assert document["baseline"] == "no baseline yet"


def test_baseline_set_shows_percent_and_next_threshold(tmp_path: Path) -> None:
    today = utc_now().date()
    csv_file = tmp_path / "costs.csv"
    csv_file.write_text(f"date,amount\n{today.replace(day=1)},515.00\n")
    invoke("spend", "import", str(csv_file), "--state-dir", str(tmp_path))

    status, output = invoke("spend", "baseline", "set", "420", "--state-dir", str(tmp_path))
    _, shown = invoke("spend", "show", "--json", "--state-dir", str(tmp_path))
    _, text = invoke("spend", "show", "--state-dir", str(tmp_path))

    assert status == 0
    assert output.strip() == f"baseline set to $420.00 from {month_key(today)} on"
    document = json.loads(shown)
    assert document["baseline"] == "420.00"
    assert document["baseline_method"] == "manual"
    assert document["percent"] == "122.6"
    assert document["next_threshold"] == {"level": "step-1", "amount": "604.00", "remaining": "89.00"}
    assert "  next threshold    step-1 at $604.00, $89.00 away" in text


def test_baseline_set_rejects_zero(tmp_path: Path) -> None:
    status, output = invoke("spend", "baseline", "set", "0", "--state-dir", str(tmp_path))

    assert status == 2
    assert "invalid amount '0': the baseline must be above $0" in output


def test_show_rejects_bad_month(tmp_path: Path) -> None:
    status, output = invoke("spend", "show", "--month", "2026-13", "--state-dir", str(tmp_path))

    assert status == 2
    assert "invalid month '2026-13': use YYYY-MM" in output


def test_status_json_has_spend_section(tmp_path: Path) -> None:
    today = utc_now().date()
    csv_file = tmp_path / "costs.csv"
    history = [previous_month_start(today.replace(day=1))]
    for _ in range(2):
        history.append(previous_month_start(history[-1]))
    rows = [f"{first},420.00" for first in history] + [f"{today.replace(day=1)},100.00"]
    csv_file.write_text("date,amount\n" + "\n".join(rows) + "\n")
    invoke("spend", "import", str(csv_file), "--state-dir", str(tmp_path))

    status, output = invoke("status", "--json", "--state-dir", str(tmp_path))

    assert status == 0
    spend = json.loads(output)["spend"]
    assert spend["month_to_date"] == "100.00"
    assert spend["baseline"] == "420.00"
    assert spend["next_threshold"] == {"level": "warning", "amount": "504.00", "remaining": "404.00"}
    assert "forecast" in spend
