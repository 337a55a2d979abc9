"""The bundled model: a small neural network trained on scikit-learn's handwritten digits.

The data set (1,797 8x8 images, 64 features each with values 0 to 16) ships
inside scikit-learn, so building the model needs no download. Training is
deterministic (fixed split and seed), and the ONNX file is cached under a
name that includes the recipe version and the scikit-learn and skl2onnx
versions, so an upgrade builds a fresh file instead of reusing a stale one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from watchdog.worker.model_files import write_model_file

logger = logging.getLogger(__name__)

FEATURES = 64
INPUT_NAME = "X"
RECIPE_VERSION = 1
TEST_FRACTION = 0.2
SEED = 0
# ONNX opset 17 is supported by every onnxruntime release the project allows (1.18 and later).
TARGET_OPSET = 17


@dataclass(frozen=True)
class DigitsSplit:
    """The digits data set split into training and held-out samples."""

    train_inputs: npt.NDArray[np.float64]
    train_labels: npt.NDArray[np.int64]
    test_inputs: npt.NDArray[np.float64]
    test_labels: npt.NDArray[np.int64]


@dataclass(frozen=True)
class BuiltModel:
    """A freshly trained model: the fitted scikit-learn estimator and its ONNX file."""

    estimator: Any
    path: Path
    test_accuracy: float


def load_split() -> DigitsSplit:
    """Load the digits and split them, stratified, with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    inputs, labels = load_digits(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        inputs, labels, test_size=TEST_FRACTION, random_state=SEED, stratify=labels
    )
    return DigitsSplit(train_x, train_y, test_x, test_y)


def load_samples() -> npt.NDArray[np.float32]:
    """Return every digits image as a row of 64 float32 features, for the load generator."""
    from sklearn.datasets import load_digits

    inputs, _ = load_digits(return_X_y=True)
    return np.asarray(inputs, dtype=np.float32)


def train(split: DigitsSplit) -> Any:
    """Fit the estimator: standard scaling and one hidden layer of 128 ReLU units."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    estimator = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=SEED),
    )
    estimator.fit(split.train_inputs, split.train_labels)
    return estimator


def model_file_name() -> str:
    """Return the cache file name for the current recipe and library versions."""
    # Package metadata, not the modules: importing scikit-learn takes seconds.
    sklearn_version = metadata.version("scikit-learn")
    skl2onnx_version = metadata.version("skl2onnx")
    return f"digits-mlp-r{RECIPE_VERSION}-sklearn{sklearn_version}-skl2onnx{skl2onnx_version}.onnx"


def export_onnx(estimator: Any, path: Path) -> None:
    """Convert the estimator to ONNX (labels and probabilities) and write it to ``path``."""
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier

    example = np.zeros((1, FEATURES), dtype=np.float32)
    # zipmap off: probabilities come out as a [N, 10] tensor, not a list of dicts.
    model = to_onnx(
        estimator,
        example,
        options={MLPClassifier: {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    write_model_file(path, model.SerializeToString())


def build(cache_dir: Path) -> BuiltModel:
    """Train the model, export it into ``cache_dir`` and return both (always rebuilds)."""
    started = time.perf_counter()
    split = load_split()
    estimator = train(split)
    accuracy = float(estimator.score(split.test_inputs, split.test_labels))
    path = cache_dir / model_file_name()
    export_onnx(estimator, path)
    logger.info(
        "built the digits model %s in %.1fs (held-out accuracy %.3f)",
        path,
        time.perf_counter() - started,
        accuracy,
    )
    return BuiltModel(estimator=estimator, path=path, test_accuracy=accuracy)


def ensure_model(cache_dir: Path) -> Path:
    """Return the cached digits model file, building it first if it is missing."""
    path = cache_dir / model_file_name()
    if path.is_file():
        return path
    logger.info("digits model not in %s; building it", cache_dir)
    return build(cache_dir).path
