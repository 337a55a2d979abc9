"""The metrics pipeline: one tick per window, and the backfill of the spool.

``tick`` scrapes the worker, reads its memory, builds the window that just
closed, and records its rollup and counters. It then publishes the window
in one ``PutMetricData`` request when the flush interval equals the window.
With a longer flush interval the window waits in the spool as ``deferred``
until the next flush. A failed request puts its windows in the spool as
``failed``.

``backfill`` runs as a separate job, so a long backlog or a hanging
CloudWatch endpoint never delays a scrape. It sends the oldest failed
windows first, stops at the first failure and then waits with exponential
backoff, which a successful tick cuts short. A window is removed from the
spool only after CloudWatch accepted the request that carried it.

NOTE: a request that times out after CloudWatch stored its data is retried
from the spool, and CloudWatch then counts those points twice:
PutMetricData has no idempotency token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchdog.errors import ExternalServiceError, WatchdogError
from watchdog.metrics.datums import Dimensions, format_window
from watchdog.metrics.exposition import parse_exposition
from watchdog.metrics.limits import enforce_limits, plan_batches
from watchdog.metrics.memory import IdleBaseline, MemoryReader, memory_per_request, update_baseline
from watchdog.metrics.presets import Preset, WorkerReading
from watchdog.metrics.publisher import CloudWatchPublisher, MetricDataRejected
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
    MetricsRecorder,
)
from watchdog.metrics.scrape import MetricsScraper
from watchdog.metrics.spool import DEFERRED, FAILED, MetricSpool, OutgoingWindow
from watchdog.metrics.window import (
    NO_DELTAS,
    Deltas,
    Window,
    WorkerIdentity,
    build_window,
    compute_deltas,
    floor_time,
)
from watchdog.scheduler import utc_now
from watchdog.supervision.handle import WorkerHandle

logger = logging.getLogger(__name__)

# How much earlier than the real start a process_start_time_seconds may read. Linux's
# /proc/stat gives the boot time in whole seconds, and the Prometheus clients add the
# process's start ticks to it, so the value may be up to a second early. A worker
# spawned within that second after the pipeline began watching must still count from zero.
PROCESS_START_RESOLUTION = 1.0
# Windows read from the spool per round of a backfill run.
_BACKFILL_CHUNK = 500
# Maximum pause between backfill attempts while CloudWatch keeps failing.
_MAX_BACKFILL_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True)
class PipelineSettings:
    """The parts of the settings the pipeline needs, in plain values."""

    interval_seconds: int
    flush_seconds: int
    dimension_sets: list[Dimensions]
    backfill_requests_per_run: int


def pack_windows(windows: Sequence[OutgoingWindow]) -> list[list[OutgoingWindow]]:
    """Group whole windows into requests within CloudWatch's item and size limits."""
    sizes = [(window.items, window.size) for window in windows]
    return [[windows[index] for index in batch] for batch in plan_batches(sizes)]


class MetricsPipeline:
    """Builds, records and publishes metric windows; its adapters are passed in."""

    def __init__(
        self,
        *,
        preset: Preset,
        scraper: MetricsScraper,
        memory: MemoryReader,
        publisher: CloudWatchPublisher,
        spool: MetricSpool,
        recorder: MetricsRecorder,
        worker: Callable[[], WorkerHandle | None],
        settings: PipelineSettings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.preset = preset
        self.scraper = scraper
        self.memory = memory
        self.publisher = publisher
        self.spool = spool
        self.recorder = recorder
        self._worker = worker
        self.settings = settings
        self._clock = clock
        self._wanted = preset.wanted_samples()

        self._previous: WorkerReading | None = None
        self._previous_identity: WorkerIdentity | None = None
        # Wall-clock seconds since the epoch, comparable with the worker's
        # process_start_time_seconds, whatever clock the pipeline runs on.
        self._watching_since = time.time()
        self._baseline: IdleBaseline | None = None
        self._last_tick: datetime | None = None
        # Ticks in a row whose PutMetricData request failed; 0 after a success.
        self.consecutive_failures = 0

        # Shared with the backfill job's thread.
        self._lock = threading.Lock()
        self._backfill_failures = 0
        self._backfill_after: datetime | None = None

    # -- tick ----------------------------------------------------------------

    def tick(self) -> Window | None:
        """Close the window that ended at the last interval boundary; None if already closed."""
        now = self._clock()
        interval = self.settings.interval_seconds
        tick_time = floor_time(now, interval)
        if self._last_tick is None:
            self._last_tick = self._resume_point()
        if self._last_tick is not None and tick_time <= self._last_tick:
            # Also after the clock stepped back: CloudWatch already holds these timestamps.
            logger.debug("window ending %s already closed; skipping", tick_time.isoformat())
            return None
        unobserved = self._unobserved_windows(tick_time)
        self._last_tick = tick_time
        start = tick_time - timedelta(seconds=interval)

        handle = self._worker()
        worker_up = handle is not None and handle.is_up
        reading, identity, deltas = self._read_counters(handle, worker_up)
        rss, per_request = self._read_memory(handle, worker_up, reading, identity)

        window = build_window(
            start,
            interval,
            worker_up=worker_up,
            deltas=deltas,
            current=reading,
            memory_rss=rss,
            memory_per_request=per_request,
        )
        datums, drops = enforce_limits(format_window(window, self.settings.dimension_sets), now)
        counts: Counter[str] = Counter({DROP_PREFIX + reason: n for reason, n in drops.items()})
        counts[DROP_PREFIX + DROP_UNOBSERVED] += unobserved
        if drops:
            logger.warning(
                "dropped data points that CloudWatch would reject: %s",
                ", ".join(f"{reason}={n}" for reason, n in sorted(drops.items())),
            )

        state: dict[str, str | None] = {LAST_WINDOW: start.isoformat()}
        if datums:
            self._publish(OutgoingWindow(start, tuple(datums)), tick_time, now, counts, state)
        self.recorder.record_window(window, counts, state, now)
        return window

    def _resume_point(self) -> datetime | None:
        """Return the tick that closed the last recorded window, so that a restart never closes it again."""
        last_start = self.recorder.last_window_start()
        if last_start is None:
            return None
        return last_start + timedelta(seconds=self.settings.interval_seconds)

    def _unobserved_windows(self, tick_time: datetime) -> int:
        """Return how many windows between the last closed one and ``tick_time``'s no tick closed.

        No tick read their gauges or memory, so they are counted as dropped
        rather than left as a silent gap in CloudWatch.
        """
        if self._last_tick is None:
            return 0
        interval = timedelta(seconds=self.settings.interval_seconds)
        skipped = (tick_time - self._last_tick) // interval - 1
        if skipped > 0:
            logger.warning(
                "no tick closed the %d windows from %s to %s; counted as dropped",
                skipped,
                self._last_tick.isoformat(),
                (tick_time - interval).isoformat(),
            )
        return max(skipped, 0)

    def _read_counters(
        self, handle: WorkerHandle | None, worker_up: bool
    ) -> tuple[WorkerReading | None, WorkerIdentity, Deltas]:
        """Scrape the worker and return the reading, the process identity and the deltas.

        A worker that is not up is not scraped. Its counters' growth then
        lands in the first window after it is up again, or starts from zero
        when a new process replaced it.
        """
        reading = self._scrape(handle) if worker_up else None
        identity = WorkerIdentity(
            pid=handle.pid if handle is not None else None,
            process_start=reading.process_start if reading is not None else None,
        )
        if reading is None:
            return None, identity, NO_DELTAS

        deltas = NO_DELTAS
        if self._previous is not None and self._previous_identity is not None:
            restarted = self._previous_identity.replaced(identity)
            if restarted:
                logger.info("worker process changed since the last scrape; counters start from zero")
            deltas = compute_deltas(self.preset, self._previous, reading, restarted)
        elif (
            reading.process_start is not None
            and reading.process_start >= self._watching_since - PROCESS_START_RESOLUTION
        ):
            # The first reading of a process that started while the daemon was
            # watching: everything it counted is new, even what it served
            # before its first scrape (a worker that was slow to pass health).
            deltas = compute_deltas(self.preset, reading, reading, restarted=True)
        self._previous = reading
        self._previous_identity = identity
        return reading, identity, deltas

    def _scrape(self, handle: WorkerHandle | None) -> WorkerReading | None:
        url = handle.metrics_url if handle is not None else None
        if not url:
            return None
        try:
            text = self.scraper.fetch(url)
            reading = self.preset.read(parse_exposition(text, self._wanted))
        except WatchdogError as exc:
            logger.warning("scrape of %s skipped: %s", url, exc)
            return None
        if not reading.recognised:
            logger.warning("no sample of the %r preset in %s: check metrics.preset", self.preset.name, url)
        return reading

    def _read_memory(
        self,
        handle: WorkerHandle | None,
        worker_up: bool,
        reading: WorkerReading | None,
        identity: WorkerIdentity,
    ) -> tuple[int | None, float | None]:
        """Return the worker's memory and its memory per request (None when unknown)."""
        pid = handle.pid if handle is not None else None
        if pid is None:
            return None, None
        try:
            rss = self.memory.read(pid)
        except WatchdogError as exc:
            logger.warning("memory of worker process %s not read: %s", pid, exc)
            return None, None
        if not worker_up:
            return rss, None

        in_flight = reading.in_flight if reading is not None else None
        process = identity.pid if identity.pid is not None else identity.process_start
        self._baseline = update_baseline(self._baseline, process, rss, in_flight)
        return rss, memory_per_request(rss, self._baseline, in_flight)

    def _publish(
        self,
        window: OutgoingWindow,
        tick_time: datetime,
        now: datetime,
        counts: Counter[str],
        state: dict[str, str | None],
    ) -> None:
        flush = self.settings.flush_seconds
        flush_due = int(tick_time.timestamp()) % flush == 0
        if not flush_due:
            counts[DROP_PREFIX + DROP_SPOOL_FULL] += self.spool.add([window], DEFERRED, now)
            return

        windows = [window]
        if flush > self.settings.interval_seconds:
            windows = [*self.spool.deferred(), window]

        batches = pack_windows(windows)
        for position, batch in enumerate(batches):
            try:
                attempts = self.publisher.send_batch([d for w in batch for d in w.datums])
            except MetricDataRejected as exc:
                logger.error("CloudWatch rejected %d windows; dropping them: %s", len(batch), exc)
                counts[DROP_PREFIX + DROP_REJECTED] += len(batch)
                counts[REQUESTS] += 1
                self.spool.delete(batch)
                continue
            except ExternalServiceError as exc:
                counts[REQUESTS] += 1
                remaining = [w for later in batches[position:] for w in later]
                self._spool_failed(remaining, str(exc), now, counts)
                state[LAST_ERROR] = str(exc)
                state[LAST_ERROR_AT] = now.isoformat()
                self._note_failure(exc, len(remaining))
                return
            counts[REQUESTS] += attempts
            counts[PUBLISHED] += len(batch)
            self.spool.delete(batch)
            state[LAST_PUBLISHED] = now.isoformat()
        self._note_success()

    def _spool_failed(
        self, windows: list[OutgoingWindow], error: str, now: datetime, counts: Counter[str]
    ) -> None:
        fresh = [window for window in windows if window.spool_id is None]
        spooled = [window for window in windows if window.spool_id is not None]
        self.spool.mark_failed(spooled, error)
        counts[DROP_PREFIX + DROP_SPOOL_FULL] += self.spool.add(fresh, FAILED, now, error)
        counts[SPOOLED] += len(windows)

    def _note_failure(self, exc: ExternalServiceError, windows: int) -> None:
        if self.consecutive_failures == 0:
            logger.warning("PutMetricData failed, %d windows spooled for backfill: %s", windows, exc)
        else:
            logger.debug("PutMetricData still failing, %d more windows spooled: %s", windows, exc)
        self.consecutive_failures += 1

    def _note_success(self) -> None:
        if self.consecutive_failures:
            logger.info(
                "PutMetricData succeeds again after %d failed ticks; spooled windows will be backfilled",
                self.consecutive_failures,
            )
        self.consecutive_failures = 0
        with self._lock:
            self._backfill_failures = 0
            self._backfill_after = None

    # -- backfill ------------------------------------------------------------

    def backfill(self) -> int:
        """Send spooled windows oldest first; return how many CloudWatch accepted."""
        now = self._clock()
        counts: Counter[str] = Counter()
        state: dict[str, str | None] = {}
        oldest = self.spool.oldest_failed_start()
        if oldest is None:
            # The common case: nothing to send, and nothing is written.
            return 0
        if oldest < now - self.spool.max_age:
            counts[DROP_PREFIX + DROP_EXPIRED] += self.spool.expire(now)

        with self._lock:
            waiting = self._backfill_after is not None and now < self._backfill_after
        if waiting:
            self.recorder.add_counts(counts, now)
            return 0

        sent_requests = 0
        accepted = 0
        budget = self.settings.backfill_requests_per_run
        while sent_requests < budget:
            windows = self._recheck(self.spool.oldest_failed(_BACKFILL_CHUNK), now, counts)
            if not windows:
                break
            for batch in pack_windows(windows):
                if sent_requests >= budget:
                    break
                sent_requests += 1
                try:
                    counts[REQUESTS] += self.publisher.send_batch([d for w in batch for d in w.datums])
                except MetricDataRejected as exc:
                    logger.error("CloudWatch rejected %d spooled windows; dropping them: %s", len(batch), exc)
                    counts[REQUESTS] += 1
                    counts[DROP_PREFIX + DROP_REJECTED] += len(batch)
                    self.spool.delete(batch)
                    continue
                except ExternalServiceError as exc:
                    counts[REQUESTS] += 1
                    self.spool.mark_failed(batch, str(exc))
                    self._backfill_failed(now, exc)
                    state[LAST_ERROR] = str(exc)
                    state[LAST_ERROR_AT] = now.isoformat()
                    self.recorder.add_counts(counts, now, state)
                    return accepted
                self.spool.delete(batch)
                accepted += len(batch)
                counts[BACKFILLED] += len(batch)
                state[LAST_PUBLISHED] = now.isoformat()

        if accepted:
            logger.info("backfilled %d spooled windows", accepted)
        with self._lock:
            self._backfill_failures = 0
            self._backfill_after = None
        self.recorder.add_counts(counts, now, state)
        return accepted

    def _recheck(
        self, windows: list[OutgoingWindow], now: datetime, counts: Counter[str]
    ) -> list[OutgoingWindow]:
        """Apply the limits again: a spooled point may have aged past CloudWatch's window."""
        ready = []
        empty = []
        for window in windows:
            datums, drops = enforce_limits(window.datums, now)
            for reason, n in drops.items():
                counts[DROP_PREFIX + reason] += n
            if datums:
                ready.append(OutgoingWindow(window.start, tuple(datums), window.spool_id))
            else:
                empty.append(window)
        self.spool.delete(empty)
        return ready

    def _backfill_failed(self, now: datetime, exc: ExternalServiceError) -> None:
        with self._lock:
            self._backfill_failures += 1
            delay = timedelta(seconds=self.settings.interval_seconds) * 2 ** (self._backfill_failures - 1)
            delay = min(delay, _MAX_BACKFILL_BACKOFF)
            self._backfill_after = now + delay
            failures = self._backfill_failures
        logger.warning(
            "backfill failed (%d in a row), next attempt in %.0fs: %s",
            failures,
            delay.total_seconds(),
            exc,
        )
