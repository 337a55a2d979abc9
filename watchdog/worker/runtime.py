"""ONNX Runtime behind the worker: session options, loading a model, running a batch.

One ``LoadedModel`` wraps one ``InferenceSession``. ``InferenceSession.run``
is safe to call from several threads at once, so the worker creates the
session once and shares it between its inference threads. ONNX Runtime's
own exceptions are translated here into ``ModelLoadError`` and
``InferenceError``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from watchdog.errors import WorkerError

logger = logging.getLogger(__name__)

# ONNX Runtime input element types the worker accepts, and their numpy dtypes.
_FLOAT_INPUT_TYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
}


class ModelLoadError(WorkerError):
    """The model file could not be read, or its input does not fit the worker."""


class InferenceError(WorkerError):
    """ONNX Runtime failed to run the model on a batch, or its output was unusable."""


def onnxruntime_errors() -> tuple[type[Exception], ...]:
    """Return the exception classes ONNX Runtime raises from loading and running."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    classes: list[type[Exception]] = [RuntimeError, ValueError]
    for name in dir(state):
        value = getattr(state, name)
        if isinstance(value, type) and issubclass(value, Exception):
            classes.append(value)
    return tuple(classes)


@dataclass(frozen=True)
class ModelSpec:
    """A model file and, where its metadata is incomplete, how to feed it.

    ``sample_shape`` is the shape of one sample without the batch dimension,
    such as ``(64,)`` or ``(3, 224, 224)``.
    """

    path: Path
    input_name: str | None = None
    sample_shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class InputSpec:
    """The model input a request feeds: its name, dtype, sample shape and fixed batch size."""

    name: str
    dtype: type[np.floating[Any]]
    sample_shape: tuple[int, ...]
    fixed_batch: int | None = None


def session_options(threads: int) -> Any:
    """Build ``SessionOptions`` for a process that shares its host with other work.

    ``threads`` sizes the intra-op pool, and inter-op parallelism is off. The
    pools sleep when idle instead of spinning, because ONNX Runtime spins by
    default and so burns a core between requests.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def create_session(path: Path, threads: int) -> Any:
    """Create an ``InferenceSession`` on the CPU; raise ``ModelLoadError`` when that fails."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except onnxruntime_errors() as exc:
        raise ModelLoadError(
            f"loading ONNX model {str(path)!r} failed: {exc}; check that the file exists and "
            "is a valid ONNX model"
        ) from exc


def resolve_input(
    inputs: list[tuple[str, str, list[Any]]],
    input_name: str | None,
    sample_shape: tuple[int, ...] | None,
) -> InputSpec:
    """Choose the model input to feed and check the requested shape against the model's.

    ``inputs`` lists the model's inputs as (name, element type, shape), the way
    ``InferenceSession.get_inputs()`` describes them: a dimension is an int
    when fixed and a string or None when dynamic.
    """
    if not inputs:
        raise ModelLoadError("the model has no inputs; the worker feeds one float tensor")
    names = [name for name, _, _ in inputs]
    if input_name is None:
        if len(inputs) > 1:
            raise ModelLoadError(
                f"the model has {len(inputs)} inputs {names}; pass --input-name to choose one "
                "(the others must be optional)"
            )
        name, element_type, shape = inputs[0]
    else:
        matches = [entry for entry in inputs if entry[0] == input_name]
        if not matches:
            raise ModelLoadError(f"input {input_name!r} not found in the model; its inputs are {names}")
        name, element_type, shape = matches[0]

    dtype = _FLOAT_INPUT_TYPES.get(element_type)
    if dtype is None:
        raise ModelLoadError(
            f"input {name!r} has type {element_type}; the worker feeds float tensors only "
            f"({', '.join(_FLOAT_INPUT_TYPES)})"
        )
    if not shape:
        raise ModelLoadError(f"input {name!r} is a scalar; the worker feeds a batch of samples")

    batch_dim, model_sample = shape[0], shape[1:]
    fixed_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
    if sample_shape is None:
        if not all(isinstance(dim, int) and dim > 0 for dim in model_sample):
            raise ModelLoadError(
                f"input {name!r} has dynamic dimensions {shape}; pass --input-shape with the "
                "shape of one sample, such as 3,224,224"
            )
        sample_shape = tuple(int(dim) for dim in model_sample)
    elif len(sample_shape) != len(model_sample) or any(
        isinstance(dim, int) and dim > 0 and dim != requested
        for dim, requested in zip(model_sample, sample_shape, strict=True)
    ):
        raise ModelLoadError(
            f"--input-shape {','.join(map(str, sample_shape))} does not fit input {name!r} of "
            f"shape {shape}; give the shape of one sample without the batch dimension"
        )
    return InputSpec(name=name, dtype=dtype, sample_shape=sample_shape, fixed_batch=fixed_batch)


def predictions_from_output(output: Any, batch_size: int) -> list[int]:
    """Turn the model's first output into one class index per sample.

    An integer output is taken as labels; a float output as scores, whose
    highest entry per sample is the prediction.
    """
    array = np.asarray(output)
    if array.ndim == 0 or array.shape[0] != batch_size:
        raise InferenceError(
            f"the model returned an output of shape {array.shape} for {batch_size} samples; "
            "expected one label or one row of scores per sample"
        )
    if np.issubdtype(array.dtype, np.integer):
        labels = array.reshape(batch_size, -1)
        if labels.shape[1] != 1:
            raise InferenceError(
                f"the model returned integer output of shape {array.shape}; expected one label per sample"
            )
        return [int(value) for value in labels[:, 0]]
    if np.issubdtype(array.dtype, np.floating):
        scores = array.reshape(batch_size, -1)
        return [int(value) for value in scores.argmax(axis=1)]
    raise InferenceError(f"the model returned output of type {array.dtype}; expected labels or scores")


class LoadedModel:
    """A model file with its one ``InferenceSession``, ready to predict from several threads."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        started = time.perf_counter()
        self.session = create_session(spec.path, threads)
        self.load_seconds = time.perf_counter() - started
        self.path = spec.path
        self.size_bytes = spec.path.stat().st_size
        described = [(item.name, item.type, list(item.shape)) for item in self.session.get_inputs()]
        self.input = resolve_input(described, spec.input_name, spec.sample_shape)
        self.output_name: str = self.session.get_outputs()[0].name
        self._errors = onnxruntime_errors()

    def predict(self, batch: npt.NDArray[np.floating[Any]]) -> list[int]:
        """Run the session on ``batch`` (samples along the first axis) and return class indices."""
        if self.input.fixed_batch == 1 and batch.shape[0] > 1:
            predictions: list[int] = []
            for sample in batch:
                predictions.extend(self.predict(sample[np.newaxis, ...]))
            return predictions
        try:
            outputs = self.session.run([self.output_name], {self.input.name: batch})
        except self._errors as exc:
            raise InferenceError(f"running the model on a batch of {batch.shape[0]} failed: {exc}") from exc
        return predictions_from_output(outputs[0], batch.shape[0])
