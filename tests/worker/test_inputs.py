"""Validation of /predict bodies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from watchdog.worker.inputs import InvalidRequestError, parse_inputs
from watchdog.worker.runtime import InputSpec

SPEC = InputSpec(name="X", dtype=np.float32, sample_shape=(4,))


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def rejection(raw: bytes, spec: InputSpec = SPEC, max_batch: int = 8) -> str:
    with pytest.raises(InvalidRequestError) as caught:
        parse_inputs(raw, spec, max_batch)
    assert caught.value.status == 400
    return str(caught.value)


def test_valid_batch_becomes_float32_array() -> None:
    batch = parse_inputs(body({"inputs": [[1, 2, 3, 4], [0.5, 0, 0, 16]]}), SPEC, 8)

    assert batch.dtype == np.float32
    assert batch.tolist() == [[1, 2, 3, 4], [0.5, 0, 0, 16]]


def test_invalid_json_names_position() -> None:
    assert rejection(b'{"inputs": [[1, 2,') == "invalid JSON at line 1 column 19: Expecting value"


def test_nan_literal_is_rejected() -> None:
    message = rejection(b'{"inputs": [[1, NaN, 3, 4]]}')

    assert message == "invalid JSON number NaN: inputs must be finite numbers"


def test_infinity_literal_is_rejected() -> None:
    assert "invalid JSON number -Infinity" in rejection(b'{"inputs": [[-Infinity, 1, 2, 3]]}')


def test_overflowing_number_is_rejected() -> None:
    message = rejection(b'{"inputs": [[1, 2, 3, 1e39]]}')

    assert message == (
        "inputs[0, 3] = 1e+39 is not finite as float32; send finite numbers in the model's range"
    )


def test_number_overflowing_double_is_rejected() -> None:
    assert rejection(b'{"inputs": [[1, 2, 3, 1e999]]}').startswith("inputs[0, 3] = inf is not finite")


def test_wrong_sample_shape_names_the_sample() -> None:
    message = rejection(body({"inputs": [[1, 2, 3, 4], [1, 2, 3]]}))

    assert message == "inputs[1] has shape (3,); each sample must have shape (4,)"


def test_uniformly_wrong_shape_is_rejected() -> None:
    message = rejection(body({"inputs": [[1, 2], [3, 4]]}))

    assert message == "inputs[0] has shape (2,); each sample must have shape (4,)"


def test_strings_are_rejected() -> None:
    assert rejection(body({"inputs": [["a", "b", "c", "d"]]})) == "inputs must be numbers, got strings"


def test_nulls_are_rejected() -> None:
    message = rejection(body({"inputs": [[None, 1, 2, 3]]}))

    assert message.startswith("inputs must be numbers, got nulls")


def test_missing_inputs_key_is_rejected() -> None:
    assert "must be a JSON object" in rejection(body({"samples": [[1, 2, 3, 4]]}))
    assert "must be a JSON object" in rejection(body([[1, 2, 3, 4]]))


def test_inputs_must_be_a_list() -> None:
    assert rejection(body({"inputs": "1,2,3,4"})) == "'inputs' must be a list of samples, got str"


def test_empty_and_oversized_batches_are_rejected() -> None:
    assert rejection(body({"inputs": []})) == "'inputs' must contain 1 to 8 samples, got 0"
    assert rejection(body({"inputs": [[0, 0, 0, 0]] * 9})) == ("'inputs' must contain 1 to 8 samples, got 9")


def test_fixed_batch_model_needs_exact_batch() -> None:
    spec = InputSpec(name="X", dtype=np.float32, sample_shape=(4,), fixed_batch=2)

    assert rejection(body({"inputs": [[0, 0, 0, 0]]}), spec) == (
        "the model takes batches of exactly 2 samples, got 1"
    )


def test_non_utf8_body_is_rejected() -> None:
    message = rejection(b'{"inputs": "\xff"}')

    assert message.startswith("request body is not UTF-8 text")
