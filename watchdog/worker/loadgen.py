"""A load generator for the worker: real digit samples, a chosen rate, concurrency and profile.

Profiles:

- ``steady``: ``rate`` requests per second for the whole run.
- ``spike``: ``rate`` for the first and last 40 % of the run and
  ``SPIKE_FACTOR`` times that in the middle 20 %.
- ``retry-storm``: one misbehaving client in a tight retry loop. It follows
  the steady schedule, but sends a failed attempt (429, 5xx, a connection
  error or a timeout) again at once, without backoff and ignoring
  ``Retry-After``, until it succeeds or the run ends.

A rate of 0 sends as fast as ``concurrency`` requests in flight allow.
When every slot is busy the schedule waits, so the achieved rate can be
lower than the one asked for; the result reports what was achieved.
Point it only at a worker you run yourself.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import numpy.typing as npt

Profile = Literal["steady", "spike", "retry-storm"]
PROFILES: tuple[Profile, ...] = ("steady", "spike", "retry-storm")
SPIKE_FACTOR = 5.0
SPIKE_START, SPIKE_END = 0.4, 0.6


@dataclass(frozen=True)
class LoadPlan:
    """A load to send: target URL, rate, concurrency, duration and pattern."""

    url: str
    rate: float
    concurrency: int
    duration: float
    profile: Profile = "steady"
    batch_size: int = 1
    timeout: float = 10.0
    max_requests: int | None = None

    def __post_init__(self) -> None:
        if self.rate < 0 or self.concurrency < 1 or self.duration <= 0 or self.batch_size < 1:
            raise ValueError(
                f"rate must be >= 0, concurrency and batch size >= 1 and duration > 0; got rate "
                f"{self.rate}, concurrency {self.concurrency}, duration {self.duration}, batch "
                f"{self.batch_size}"
            )
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; expected one of {', '.join(PROFILES)}")
        if self.profile == "spike" and self.rate == 0:
            raise ValueError("the spike profile needs a rate above 0 to multiply")


@dataclass
class LoadResult:
    """The outcome of a run: attempts by status, the latency of every attempt, and retries."""

    profile: Profile
    elapsed: float
    status_counts: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    retries: int = 0

    @property
    def attempts(self) -> int:
        """Requests sent, retries included."""
        return sum(self.status_counts.values())

    @property
    def succeeded(self) -> int:
        """Attempts that got a 2xx response."""
        return sum(count for status, count in self.status_counts.items() if status.startswith("2"))

    @property
    def throughput(self) -> float:
        """Successful requests per second over the run."""
        return self.succeeded / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def attempt_rate(self) -> float:
        """Attempts per second over the run, failures and retries included."""
        return self.attempts / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        """Return the latency (seconds) below which ``fraction`` of attempts fall; NaN if none."""
        if not self.latencies:
            return float("nan")
        return float(np.quantile(np.asarray(self.latencies), fraction))

    def format(self) -> str:
        """Render the result as a small text table."""
        lines = [
            f"profile {self.profile}: {self.attempts} attempts in {self.elapsed:.1f}s "
            f"({self.retries} retries)",
            f"  throughput   {self.throughput:10.1f} ok/s   ({self.attempt_rate:.1f} attempts/s)",
        ]
        for label, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            lines.append(f"  latency {label}  {self.percentile(fraction) * 1000:10.2f} ms")
        lines.append(f"  latency max  {max(self.latencies, default=0.0) * 1000:10.2f} ms")
        lines.append("  status counts:")
        for status, count in sorted(self.status_counts.items()):
            lines.append(f"    {status:<24} {count}")
        return "\n".join(lines)


def predict_url(url: str) -> str:
    """Return the /predict URL for a worker base URL; a URL with a path is used as given."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit((parts.scheme, parts.netloc, "/predict", "", ""))
    return url


def rate_at(plan: LoadPlan, elapsed: float) -> float:
    """Return the profile's request rate ``elapsed`` seconds into the run."""
    if plan.profile == "spike":
        position = elapsed / plan.duration
        if SPIKE_START <= position < SPIKE_END:
            return plan.rate * SPIKE_FACTOR
    return plan.rate


def next_send_time(plan: LoadPlan, previous: float) -> float:
    """Return when the request after the one scheduled at ``previous`` seconds is due."""
    rate = rate_at(plan, previous)
    return previous if rate == 0 else previous + 1.0 / rate


def _is_failure(status: str) -> bool:
    return status.startswith(("error:", "5")) or status == "429"


class _Runner:
    """One run of a plan: ``concurrency`` senders take numbered tickets from one schedule.

    Each sender has its own HTTP client with one connection: a single httpx
    pool shared by 50 connections spends more CPU on pool bookkeeping than
    on the requests, which would measure the load generator, not the worker.
    """

    def __init__(
        self,
        plan: LoadPlan,
        samples: npt.NDArray[np.float32],
        clock: Callable[[], float],
    ) -> None:
        self.plan = plan
        self.samples = samples
        self.clock = clock
        self.url = predict_url(plan.url)
        self.result = LoadResult(profile=plan.profile, elapsed=0.0)
        self.started = 0.0
        self._due = 0.0
        self._issued = 0
        self._ticket_lock = asyncio.Lock()
        # One TLS context for every sender: httpx would otherwise load the CA
        # bundle once per client, tens of milliseconds of CPU each.
        self._tls = ssl.create_default_context()

    def body(self, index: int) -> dict[str, list[list[float]]]:
        rows = [
            self.samples[(index * self.plan.batch_size + offset) % len(self.samples)].tolist()
            for offset in range(self.plan.batch_size)
        ]
        return {"inputs": rows}

    def time_left(self) -> bool:
        return self.clock() - self.started < self.plan.duration

    async def next_ticket(self) -> int | None:
        """Wait until the next request is due and return its number, or None when the run is over."""
        async with self._ticket_lock:
            if self.plan.max_requests is not None and self._issued >= self.plan.max_requests:
                return None
            delay = self.started + self._due - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.time_left():
                return None
            ticket = self._issued
            self._issued += 1
            self._due = next_send_time(self.plan, self._due)
            return ticket

    async def attempt(self, client: httpx.AsyncClient, body: dict[str, list[list[float]]]) -> str:
        sent = self.clock()
        try:
            response = await client.post(self.url, json=body)
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = f"error:{type(exc).__name__}"
        self.result.latencies.append(self.clock() - sent)
        self.result.status_counts[status] += 1
        return status

    async def sender(self) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(timeout=self.plan.timeout, limits=limits, verify=self._tls) as client:
            while (ticket := await self.next_ticket()) is not None:
                body = self.body(ticket)
                status = await self.attempt(client, body)
                if self.plan.profile != "retry-storm":
                    continue
                while _is_failure(status) and self.time_left():
                    self.result.retries += 1
                    status = await self.attempt(client, body)

    async def run(self) -> LoadResult:
        self.started = self.clock()
        await asyncio.gather(*(self.sender() for _ in range(self.plan.concurrency)))
        self.result.elapsed = self.clock() - self.started
        return self.result


async def run_load_async(
    plan: LoadPlan,
    samples: npt.NDArray[np.float32] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Run ``plan`` on the current event loop and return what it achieved."""
    if samples is None:
        from watchdog.worker.digits import load_samples

        samples = await asyncio.to_thread(load_samples)
    return await _Runner(plan, samples, clock).run()


def run_load(plan: LoadPlan, samples: npt.NDArray[np.float32] | None = None) -> LoadResult:
    """Run ``plan`` on a new event loop (blocking) and return what it achieved."""
    return asyncio.run(run_load_async(plan, samples))
