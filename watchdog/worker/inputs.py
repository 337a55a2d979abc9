"""Validation of /predict request bodies: JSON in, a finite numpy batch out, or a 400 naming the problem."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from watchdog.errors import InputError
from watchdog.worker.runtime import InputSpec


class InvalidRequestError(InputError):
    """A request the worker rejects, with the HTTP status of the response."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


# Descriptions of the non-numeric numpy array kinds a JSON request can produce.
_KIND_NAMES = {
    "U": "strings",
    "S": "strings",
    "b": "booleans",
    "O": "nulls, nested objects or integers too large for a float",
}


def _reject_constant(name: str) -> NoReturn:
    # json.loads accepts NaN, Infinity and -Infinity, which JSON itself does not define.
    raise InvalidRequestError(f"invalid JSON number {name}: inputs must be finite numbers")


def _first_bad_sample(samples: list[Any], sample_shape: tuple[int, ...]) -> str:
    """Describe the first sample that does not have ``sample_shape``, for the error message."""
    for index, sample in enumerate(samples):
        try:
            shape = np.asarray(sample, dtype=np.float64).shape
        except (ValueError, TypeError):
            return f"inputs[{index}] is not an array of numbers of shape {sample_shape}"
        if shape != sample_shape:
            return f"inputs[{index}] has shape {shape}; each sample must have shape {sample_shape}"
    return f"inputs must be {len(samples)} samples of shape {sample_shape}"


def parse_inputs(body: bytes, spec: InputSpec, max_batch: int) -> npt.NDArray[np.floating[Any]]:
    """Parse ``{"inputs": [sample, ...]}`` into a batch of ``spec.dtype``; raise ``InvalidRequestError``.

    Rejected: invalid JSON, NaN or Infinity, anything but an object with an
    ``inputs`` list, an empty or oversized batch, samples of the wrong
    shape, strings, nulls and values that are not finite in the model's
    dtype. Booleans mixed with numbers are read as 1 and 0, as numpy does.
    """
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"request body is not UTF-8 text: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None

    if not isinstance(document, dict) or "inputs" not in document:
        raise InvalidRequestError(
            'request body must be a JSON object {"inputs": [[...], ...]} with one sample per row'
        )
    samples = document["inputs"]
    if not isinstance(samples, list):
        raise InvalidRequestError(f"'inputs' must be a list of samples, got {type(samples).__name__}")
    if not samples or len(samples) > max_batch:
        raise InvalidRequestError(f"'inputs' must contain 1 to {max_batch} samples, got {len(samples)}")
    if spec.fixed_batch not in (None, 1) and len(samples) != spec.fixed_batch:
        raise InvalidRequestError(
            f"the model takes batches of exactly {spec.fixed_batch} samples, got {len(samples)}"
        )

    expected = (len(samples), *spec.sample_shape)
    try:
        raw = np.asarray(samples)
    except ValueError:
        raw = None
    if raw is None or raw.shape != expected:
        raise InvalidRequestError(_first_bad_sample(samples, spec.sample_shape))
    if raw.dtype.kind not in "iuf":
        found = _KIND_NAMES.get(raw.dtype.kind, raw.dtype.name)
        raise InvalidRequestError(f"inputs must be numbers, got {found}")

    # Values beyond the dtype's range become infinity here and are rejected below.
    with np.errstate(over="ignore"):
        batch = raw.astype(spec.dtype)
    finite = np.isfinite(batch)
    if not finite.all():
        position = tuple(int(index) for index in np.argwhere(~finite)[0])
        value = float(raw[position])
        raise InvalidRequestError(
            f"inputs{list(position)} = {value!r} is not finite as {np.dtype(spec.dtype).name}; "
            "send finite numbers in the model's range"
        )
    return batch
