"""Writing model files into the model cache so that readers never see half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from watchdog.errors import WorkerError


def write_model_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    Several workers may build the same model at once; each renames its own
    complete file, so a reader sees one whole file or none.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError as exc:
        raise WorkerError(
            f"creating a model file in {str(path.parent)!r} failed: {exc.strerror}; set "
            "worker.model_cache_dir or --model-cache to a writable directory"
        ) from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # mkstemp creates the file readable by its owner only; a model is no secret.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise WorkerError(f"writing model file {str(path)!r} failed: {exc.strerror}") from exc
