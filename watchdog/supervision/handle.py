"""What other capabilities may read about the supervised worker, without knowing how it is run."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class WorkerHandle(Protocol):
    """A read-only view of the worker for metrics, alerts and reports."""

    @property
    def pid(self) -> int | None:
        """The worker's process id, or None when no process is running."""
        ...

    @property
    def is_up(self) -> bool:
        """Whether the worker is running and passed its last health check."""
        ...

    @property
    def started_at(self) -> datetime | None:
        """When the current worker process became ready, or None."""
        ...

    @property
    def metrics_url(self) -> str | None:
        """The URL of the worker's Prometheus ``/metrics``."""
        ...
