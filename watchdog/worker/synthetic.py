"""A synthetic ONNX model of a chosen size, to see memory behaviour at realistic model sizes.

The model takes the same input as the digits model (a batch of 64 floats)
and is a stack of dense ReLU layers ``hidden`` units wide, ending in 10
scores and an ``ArgMax``. Its weights are random numbers from a seeded
generator: the predictions mean nothing, but loading and running it costs
what a real dense model of that size costs. Models are built on demand and
never committed (``*.onnx`` is git-ignored).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from watchdog.worker.digits import FEATURES, INPUT_NAME, TARGET_OPSET
from watchdog.worker.model_files import write_model_file

logger = logging.getLogger(__name__)

CLASSES = 10
DEFAULT_HIDDEN = 1024
FLOAT32_BYTES = 4


@dataclass(frozen=True)
class SyntheticModel:
    """A generated model file and its shape."""

    path: Path
    hidden: int
    square_layers: int
    weight_bytes: int


def plan_square_layers(size_bytes: int, hidden: int) -> int:
    """Return how many ``hidden`` x ``hidden`` layers bring the weights closest to ``size_bytes``.

    The input layer (64 x hidden) and output layer (hidden x 10) come on top;
    there is always at least one square layer.
    """
    edge_bytes = (FEATURES * hidden + hidden * CLASSES) * FLOAT32_BYTES
    square_bytes = hidden * hidden * FLOAT32_BYTES
    return max(1, round((size_bytes - edge_bytes) / square_bytes))


def synthetic_file_name(size_bytes: int, hidden: int, seed: int) -> str:
    """Return the cache file name of a synthetic model."""
    return f"synthetic-{size_bytes}B-h{hidden}-s{seed}.onnx"


def build_synthetic_model(
    path: Path, size_bytes: int, hidden: int = DEFAULT_HIDDEN, seed: int = 0
) -> SyntheticModel:
    """Write a dense model with about ``size_bytes`` of float32 weights to ``path``.

    The size is rounded to a whole number of square layers (``hidden``² x 4
    bytes each, 4 MiB at the default width).
    """
    from onnx import TensorProto, helper, numpy_helper

    if hidden < 1:
        raise ValueError(f"hidden width must be at least 1, got {hidden}")
    square_layers = plan_square_layers(size_bytes, hidden)
    widths = [FEATURES, *([hidden] * (square_layers + 1)), CLASSES]
    generator = np.random.default_rng(seed)

    initializers = []
    nodes = []
    previous = INPUT_NAME
    weight_bytes = 0
    for index, (rows, columns) in enumerate(itertools.pairwise(widths)):
        # He-style scaling keeps activations in a sane range through many ReLU layers.
        weights = generator.standard_normal((rows, columns), dtype=np.float32)
        weights *= np.float32(np.sqrt(2.0 / rows))
        weight_bytes += weights.nbytes
        initializers.append(numpy_helper.from_array(weights, f"weight_{index}"))
        nodes.append(helper.make_node("MatMul", [previous, f"weight_{index}"], [f"dense_{index}"]))
        previous = f"dense_{index}"
        if columns != CLASSES:
            nodes.append(helper.make_node("Relu", [previous], [f"relu_{index}"]))
            previous = f"relu_{index}"
    nodes.append(helper.make_node("ArgMax", [previous], ["label"], axis=1, keepdims=0))

    graph = helper.make_graph(
        nodes,
        "synthetic_dense",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, FEATURES])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", TARGET_OPSET)])
    model.producer_name = "inference-watchdog synthetic"

    write_model_file(path, model.SerializeToString())
    logger.info(
        "built synthetic model %s: %s square layers of %s units, %s bytes of weights",
        path,
        square_layers,
        hidden,
        weight_bytes,
    )
    return SyntheticModel(path=path, hidden=hidden, square_layers=square_layers, weight_bytes=weight_bytes)


def ensure_synthetic_model(
    cache_dir: Path, size_bytes: int, hidden: int = DEFAULT_HIDDEN, seed: int = 0
) -> Path:
    """Return a cached synthetic model of this size, width and seed, building it if missing."""
    path = cache_dir / synthetic_file_name(size_bytes, hidden, seed)
    if not path.is_file():
        build_synthetic_model(path, size_bytes, hidden, seed)
    return path
