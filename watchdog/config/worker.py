"""Settings of the reference inference worker (``inference-watchdog worker serve``).

The command-line options of ``worker serve`` override these values, so the
supervisor can start a worker with explicit flags while an operator keeps
the defaults in the config file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from pydantic import Field

from watchdog.config.sections import Section
from watchdog.config.types import ByteSize, Duration


class WorkerSettings(Section):
    """The reference worker's model cache, inference pool, limits and prediction cache."""

    model_cache_dir: Path | None = Field(
        None,
        description="Directory where the bundled digits model and synthetic models are built "
        "and kept; unset means $CACHE_DIRECTORY under systemd, else a 'model-cache' directory "
        "in $STATE_DIRECTORY, else ~/.cache/inference-watchdog.",
    )
    pool_size: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Inference threads that run the shared session at the same time; unset "
        "means the number of usable CPUs (CPU quota and affinity, not the host's core count).",
    )
    intra_op_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="ONNX Runtime threads inside one inference; unset means the number of usable CPUs.",
    )
    queue_size: int = Field(
        64,
        ge=1,
        description="Requests that may wait for an inference thread; when the queue is full "
        "the worker responds 503 with Retry-After.",
    )
    rate_limit: float = Field(
        10.0,
        ge=0,
        description="Requests per second allowed to each client address (token bucket); 0 "
        "turns rate limiting off. Over the limit the worker responds 429 with Retry-After.",
    )
    rate_burst: int = Field(
        20, ge=1, description="Requests a client may send at once before the rate limit applies."
    )
    cache_ttl: Duration = Field(
        timedelta(minutes=15),
        description="How long a cached prediction is served without running inference; 0 "
        "turns the prediction cache off.",
    )
    cache_max_entries: int = Field(
        10_000,
        ge=1,
        description="Cached predictions kept; the least recently used entry is dropped first.",
    )
    max_body_bytes: ByteSize = Field(
        1024 * 1024,
        ge=1,
        description="Largest /predict request body accepted (such as '1MiB'); larger bodies get 413.",
    )
    max_batch: int = Field(256, ge=1, description="Maximum number of samples in one /predict request.")
    load_per_request_threads: int = Field(
        40,
        ge=1,
        description="Threads that load and run a model at the same time under the "
        "load-per-request fault; 40 is the thread pool size that Starlette and AnyIO give "
        "synchronous handlers.",
    )
    shutdown_timeout: Duration = Field(
        timedelta(seconds=10),
        description="How long SIGTERM waits for in-flight requests before the worker exits.",
    )

    def resolved_model_cache_dir(self) -> Path:
        """Return the model cache directory: the setting, else systemd's, else the user cache."""
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        return default_model_cache_dir(os.environ)


def default_model_cache_dir(environ: Mapping[str, str]) -> Path:
    """Return where models are cached when no directory is configured."""
    # CacheDirectory= and StateDirectory= may each list several directories, separated by colons.
    cache_directory = environ.get("CACHE_DIRECTORY")
    if cache_directory:
        return Path(cache_directory.split(":")[0])
    state_directory = environ.get("STATE_DIRECTORY")
    if state_directory:
        return Path(state_directory.split(":")[0]) / "model-cache"
    xdg_cache = environ.get("XDG_CACHE_HOME")
    base = Path(xdg_cache) if xdg_cache else Path.home() / ".cache"
    return base / "inference-watchdog"
