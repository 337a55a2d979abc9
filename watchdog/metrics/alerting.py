"""What the alert rules see of each window: a ``MetricWindow`` and the daemon's own health."""

from __future__ import annotations

from datetime import timedelta

from watchdog.alerts.rules import MetricWindow
from watchdog.metrics import distribution
from watchdog.metrics.window import Window, finite_or_none


def alert_window(window: Window) -> MetricWindow | None:
    """Return the window as the alert rules read it, or None when its requests are unknown.

    Errors are capped at the requests: a server whose error counter counts
    other requests (vLLM's HTTP 5xx) could otherwise report more errors
    than requests.
    """
    requests = finite_or_none(window.request_count)
    if requests is None or requests < 0:
        return None
    errors = finite_or_none(window.error_count) or 0.0
    p99 = distribution.quantile(window.latency_ms, 0.99)
    memory = finite_or_none(window.memory_rss)
    return MetricWindow(
        start=window.start,
        end=window.start + timedelta(seconds=window.seconds),
        requests=round(requests),
        errors=min(round(max(errors, 0.0)), round(requests)),
        p99_latency_seconds=p99 / 1000 if p99 is not None else None,
        queue_depth=finite_or_none(window.queue_depth),
        memory_bytes=round(memory) if memory is not None else None,
        memory_per_request_bytes=finite_or_none(window.memory_per_request),
    )
