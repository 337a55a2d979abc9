"""The synthetic large model generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from watchdog.worker.runtime import LoadedModel, ModelSpec
from watchdog.worker.synthetic import build_synthetic_model, ensure_synthetic_model, plan_square_layers


def test_layer_count_rounds_to_requested_size() -> None:
    square = 1024 * 1024 * 4

    assert plan_square_layers(100 * 1000 * 1000, 1024) == 24
    assert plan_square_layers(square * 3, 1024) == 3
    assert plan_square_layers(1, 1024) == 1


def test_generated_file_has_requested_size(tmp_path: Path) -> None:
    target = 6 * 256 * 256 * 4

    model = build_synthetic_model(tmp_path / "m.onnx", size_bytes=target, hidden=256)

    assert model.square_layers == 6
    assert model.weight_bytes == target + (64 * 256 + 256 * 10) * 4
    # The file contains the raw weights plus a few hundred bytes of graph.
    assert model.weight_bytes < model.path.stat().st_size < model.weight_bytes + 4096


def test_generated_model_predicts_classes(small_synthetic_model: Path) -> None:
    model = LoadedModel(ModelSpec(small_synthetic_model), threads=1)
    batch = np.random.default_rng(1).uniform(0, 16, size=(5, 64)).astype(np.float32)

    predictions = model.predict(batch)

    assert len(predictions) == 5
    assert all(0 <= label < 10 for label in predictions)
    assert model.predict(batch) == predictions


def test_same_seed_gives_same_file(tmp_path: Path) -> None:
    first = build_synthetic_model(tmp_path / "a.onnx", size_bytes=1, hidden=32, seed=3)
    second = build_synthetic_model(tmp_path / "b.onnx", size_bytes=1, hidden=32, seed=3)

    assert first.path.read_bytes() == second.path.read_bytes()


def test_ensure_reuses_the_cached_file(tmp_path: Path) -> None:
    path = ensure_synthetic_model(tmp_path, size_bytes=1, hidden=16)
    modified = path.stat().st_mtime_ns

    again = ensure_synthetic_model(tmp_path, size_bytes=1, hidden=16)

    assert again == path
    assert again.stat().st_mtime_ns == modified
