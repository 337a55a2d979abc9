"""The ``metrics`` section of ``status``: what was published, spooled, backfilled and dropped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from watchdog.config import Settings
from watchdog.metrics.limits import (
    DROP_DIMENSIONS,
    DROP_INVALID_COUNT,
    DROP_NON_FINITE,
    DROP_OUT_OF_RANGE,
    DROP_TOO_NEW,
    DROP_TOO_OLD,
)
from watchdog.metrics.records import (
    BACKFILLED,
    DROP_EXPIRED,
    DROP_PREFIX,
    DROP_REJECTED,
    DROP_SPOOL_FULL,
    DROP_UNOBSERVED,
    LAST_ERROR,
    LAST_ERROR_AT,
    LAST_PUBLISHED,
    LAST_WINDOW,
    PUBLISHED,
    REQUESTS,
    SPOOLED,
    read_counters,
    read_state,
)
from watchdog.metrics.spool import MetricSpool
from watchdog.storage import Store
from watchdog.storage.models import MetricRollup

DROP_REASONS = (
    DROP_NON_FINITE,
    DROP_OUT_OF_RANGE,
    DROP_INVALID_COUNT,
    DROP_TOO_OLD,
    DROP_TOO_NEW,
    DROP_DIMENSIONS,
    DROP_SPOOL_FULL,
    DROP_EXPIRED,
    DROP_REJECTED,
    DROP_UNOBSERVED,
)


def metrics_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Return the pipeline's lifetime counters, the spool and the latest minute rollup.

    ``published``, ``spooled`` and ``backfilled`` count windows; each
    ``dropped`` reason names its unit (values, timestamps, windows).
    """
    with store.session() as session:
        counters = read_counters(session)
        state = read_state(session)
        latest = session.scalars(select(MetricRollup).order_by(MetricRollup.minute.desc()).limit(1)).first()
        last_minute = None
        if latest is not None:
            last_minute = {
                "minute": latest.minute.isoformat(),
                "request_count": latest.request_count,
                "error_count": latest.error_count,
                "p50_ms": latest.p50_ms,
                "p99_ms": latest.p99_ms,
                "max_queue_depth": latest.max_queue_depth,
                "max_memory_rss": latest.max_memory_rss,
            }
    spool = MetricSpool(store, settings.metrics.spool_max_bytes, settings.metrics.spool_max_age).stats()

    dropped = {reason: counters.get(DROP_PREFIX + reason, 0) for reason in DROP_REASONS}
    return {
        "enabled": settings.metrics.enabled,
        "namespace": settings.aws.namespace,
        "published": counters.get(PUBLISHED, 0),
        "spooled": counters.get(SPOOLED, 0),
        "backfilled": counters.get(BACKFILLED, 0),
        "dropped": dropped,
        "dropped_total": sum(dropped.values()),
        "put_metric_data_requests": counters.get(REQUESTS, 0),
        "spool": {
            "windows": spool.windows,
            "bytes": spool.size_bytes,
            "oldest_window": spool.oldest.isoformat() if spool.oldest else None,
        },
        "last_window_start": state.get(LAST_WINDOW),
        "last_published_at": state.get(LAST_PUBLISHED),
        "last_publish_error": state.get(LAST_ERROR),
        "last_publish_error_at": state.get(LAST_ERROR_AT),
        "last_minute": last_minute,
    }
