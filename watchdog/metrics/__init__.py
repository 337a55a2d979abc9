"""The worker's numbers as 10-second CloudWatch metrics, with a spool that keeps what failed.

Every window (``metrics.interval``, 10 s by default, on the wall clock):

    worker /metrics ──scrape──▶ exposition ──preset──▶ reading ─┐
    worker process  ──memory──────────────────────────────────────┼─▶ window
    previous reading ──deltas (resets handled)────────────────────┘     │
        ┌────────────────────────────────────────────────────────────────┤
        ▼                                                                ▼
    minute rollup + counters (SQLite)        datums ─limits─▶ PutMetricData
                                                               │ fails
                                                               ▼
                                             spool (SQLite) ─backfill─▶ PutMetricData

Modules: ``exposition`` and ``scrape`` (reading /metrics), ``presets``
(which samples mean what), ``deltas``, ``distribution``, ``window`` and
``memory`` (pure window math), ``datums`` and ``limits`` (formatting for
CloudWatch and its limits), ``publisher`` (boto3), ``spool`` and
``records`` (SQLite), ``pipeline`` (one tick, one backfill),
``component`` (the daemon's jobs), ``status`` and ``alarms``.
"""
