"""The reference ONNX worker for reliability tests: one model cache per session, and its command."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog.supervision.component import reference_worker_command
from watchdog.worker import digits

_CACHES: dict[str, Path] = {}


def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a directory holding the digits model, built once per session."""
    cache = _CACHES.get("digits")
    if cache is None:
        cache = tmp_path_factory.mktemp("reliability-model-cache")
        digits.build(cache)
        _CACHES["digits"] = cache
    return cache


def worker_command(cache: Path, *arguments: str) -> list[str]:
    """Return the supervised reference worker's command line with ``arguments`` added."""
    return [*reference_worker_command(), "--model-cache", str(cache), *arguments]
