"""The ``worker`` command group: usage errors and model building."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from watchdog.cli import main


def test_input_shape_without_model_is_usage_error() -> None:
    outcome = CliRunner().invoke(main, ["worker", "serve", "--input-shape", "64"])

    assert outcome.exit_code == 2
    assert "--input-name and --input-shape describe a --model file" in outcome.output


def test_invalid_input_shape_is_rejected(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")

    outcome = CliRunner().invoke(main, ["worker", "serve", "--model", str(model), "--input-shape", "3,x"])

    assert outcome.exit_code == 2
    assert "invalid shape '3,x'" in outcome.output


def test_crash_after_mode_needs_count() -> None:
    outcome = CliRunner().invoke(main, ["worker", "serve", "--fault", "crash-after"])

    assert outcome.exit_code == 2
    assert "fault mode 'crash-after' needs --crash-after N" in outcome.output


def test_unknown_fault_is_rejected() -> None:
    outcome = CliRunner().invoke(main, ["worker", "serve", "--fault", "explode"])

    assert outcome.exit_code == 2
    assert "'explode' is not one of" in outcome.output


def test_synth_model_writes_requested_file(tmp_path: Path) -> None:
    output = tmp_path / "synthetic.onnx"

    outcome = CliRunner().invoke(
        main, ["worker", "synth-model", "--size", "64KiB", "--hidden", "64", "--output", str(output)]
    )

    assert outcome.exit_code == 0, outcome.output
    # 3 square layers of 64 x 64 plus the 64 x 64 input and 64 x 10 output layers, in float32.
    assert outcome.output.splitlines()[-1] == f"{output} (68096 bytes of weights, 3 layers)"
    assert output.is_file()
