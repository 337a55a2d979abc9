"""ONNX Runtime loading, input resolution and output decoding, on real model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from watchdog.worker import digits
from watchdog.worker.runtime import (
    InferenceError,
    LoadedModel,
    ModelLoadError,
    ModelSpec,
    predictions_from_output,
    resolve_input,
)


def test_digits_model_matches_scikit_learn(digits_model: digits.BuiltModel) -> None:
    split = digits.load_split()
    model = LoadedModel(ModelSpec(digits_model.path), threads=1)

    predictions = model.predict(split.test_inputs.astype(np.float32))

    assert predictions == digits_model.estimator.predict(split.test_inputs).tolist()
    assert model.input.name == "X"
    assert model.input.sample_shape == (64,)
    assert model.size_bytes == digits_model.path.stat().st_size


def test_garbage_file_raises_model_load_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf")

    with pytest.raises(ModelLoadError, match=r"loading ONNX model '.*broken\.onnx' failed"):
        LoadedModel(ModelSpec(path), threads=1)


def test_single_input_is_chosen_and_shape_read() -> None:
    spec = resolve_input([("X", "tensor(float)", [None, 64])], None, None)

    assert (spec.name, spec.dtype, spec.sample_shape, spec.fixed_batch) == ("X", np.float32, (64,), None)


def test_dynamic_sample_dimensions_need_input_shape() -> None:
    with pytest.raises(ModelLoadError, match="pass --input-shape"):
        resolve_input([("image", "tensor(float)", ["N", 3, "H", "W"])], None, None)

    spec = resolve_input([("image", "tensor(float)", ["N", 3, "H", "W"])], None, (3, 32, 32))

    assert spec.sample_shape == (3, 32, 32)


def test_input_shape_must_fit_fixed_dimensions() -> None:
    with pytest.raises(ModelLoadError, match="--input-shape 65 does not fit input 'X'"):
        resolve_input([("X", "tensor(float)", [None, 64])], None, (65,))


def test_several_inputs_need_input_name() -> None:
    inputs = [("a", "tensor(float)", [None, 2]), ("b", "tensor(double)", [1, 2])]

    with pytest.raises(ModelLoadError, match="pass --input-name"):
        resolve_input(inputs, None, None)
    spec = resolve_input(inputs, "b", None)

    assert (spec.name, spec.dtype, spec.fixed_batch) == ("b", np.float64, 1)


def test_unknown_input_name_lists_the_inputs() -> None:
    with pytest.raises(ModelLoadError, match=r"input 'y' not found in the model; its inputs are \['X'\]"):
        resolve_input([("X", "tensor(float)", [None, 64])], "y", None)


def test_integer_input_is_rejected() -> None:
    with pytest.raises(ModelLoadError, match="has type tensor\\(int64\\)"):
        resolve_input([("ids", "tensor(int64)", [None, 8])], None, None)


def test_label_output_becomes_ints() -> None:
    assert predictions_from_output(np.array([3, 1], dtype=np.int64), 2) == [3, 1]
    assert predictions_from_output(np.array([[4], [5]], dtype=np.int64), 2) == [4, 5]


def test_score_output_becomes_argmax() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]], dtype=np.float32)

    assert predictions_from_output(scores, 2) == [1, 0]


def test_wrong_output_batch_raises() -> None:
    with pytest.raises(InferenceError, match="output of shape \\(3,\\) for 2 samples"):
        predictions_from_output(np.array([1, 2, 3]), 2)
