"""Pure computations behind the monthly summary: values in, values out.

Nothing here reads the database or the clock. ``watchdog.reports.collect``
gathers the inputs from the store; the renderers turn a ``MonthlyReport``
into text, Markdown, JSON and Slack blocks.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

# Approximate AWS list prices for estimating the daemon's own cost. Cost
# Explorer bills $0.01 per GetCostAndUsage request, and each page is a
# request. PutMetricData costs about $0.01 per 1,000 requests, and each
# custom metric (a name and dimension set) about $0.30 a month.
COST_EXPLORER_REQUEST_PRICE = Decimal("0.01")
PUT_METRIC_DATA_PRICE_PER_1000 = Decimal("0.01")
CUSTOM_METRIC_MONTHLY_PRICE = Decimal("0.30")

MEMORY_LIMIT_FACTOR = Decimal("1.5")
MEMORY_HIGH_FACTOR = Decimal("1.25")
RATE_LIMIT_FACTOR = Decimal("1.2")
HPA_CPU_TARGET_PERCENT = 70
MIB = 1024 * 1024

# Cost Explorer RECORD_TYPE values that lower the bill rather than measure usage.
CREDIT_TYPES = frozenset({"Credit", "Refund"})


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse ``YYYY-MM``; raise ``ValueError`` naming the value otherwise."""
        try:
            parsed = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"invalid month {text!r}: use YYYY-MM, such as 2026-11") from None
        return cls(parsed.year, parsed.month)

    @classmethod
    def containing(cls, moment: datetime) -> Month:
        """Return the UTC month that contains ``moment``."""
        utc = moment.astimezone(UTC)
        return cls(utc.year, utc.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        """The 1st of the month."""
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        """The number of days in the month."""
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def start(self) -> datetime:
        """Midnight UTC on the 1st."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Midnight UTC on the 1st of the next month (exclusive)."""
        return self.next().start

    def next(self) -> Month:
        """Return the following month."""
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        """Return the month before."""
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)


@dataclass(frozen=True)
class SpendRow:
    """One day's cost of one service and record type (``Usage``, ``Credit``, ``Refund``...)."""

    day: date
    service: str
    record_type: str
    amount: Decimal
    estimated: bool


@dataclass(frozen=True)
class MinuteRollup:
    """One minute of worker metrics, as the metrics rollups store it."""

    minute: datetime
    requests: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_queue_depth: float | None
    max_memory_bytes: float | None
    # The minute's latency distribution as (milliseconds, count) pairs, when stored.
    latency: tuple[tuple[float, int], ...] = ()


@dataclass(frozen=True)
class WorkerTransition:
    """The worker becoming ready (``up``) or going away (not ``up``) at a moment."""

    at: datetime
    up: bool
    oom_kill: bool = False
    restart: bool = False


@dataclass(frozen=True)
class ServiceCost:
    """A service's cost this month, last month and the change."""

    service: str
    amount: Decimal
    previous: Decimal
    change: Decimal


@dataclass(frozen=True)
class CapacityAdvice:
    """Sizing advice derived from what was measured."""

    memory_request_bytes: int
    memory_limit_bytes: int
    memory_high_bytes: int
    rate_limit_per_second: Decimal
    hpa_cpu_target_percent: int
    observed_max_memory_bytes: int
    observed_peak_requests_per_second: Decimal

    def kubernetes_resources(self) -> str:
        """Return a ``resources:`` block ready to paste into a container spec."""
        return (
            "resources:\n"
            "  requests:\n"
            f"    memory: {_mebibytes(self.memory_request_bytes)}Mi\n"
            "  limits:\n"
            f"    memory: {_mebibytes(self.memory_limit_bytes)}Mi\n"
        )

    def systemd_properties(self) -> str:
        """Return ``MemoryHigh=``/``MemoryMax=`` lines for the worker's unit or slice."""
        return (
            f"MemoryHigh={_mebibytes(self.memory_high_bytes)}M\n"
            f"MemoryMax={_mebibytes(self.memory_limit_bytes)}M\n"
        )


@dataclass(frozen=True)
class DaemonUsage:
    """The daemon's own AWS requests in the month, and what they cost."""

    cost_explorer_requests: int
    put_metric_data_requests: int
    custom_metrics: int

    @property
    def cost(self) -> Decimal:
        """The estimated cost in USD, rounded to cents."""
        amount = (
            self.cost_explorer_requests * COST_EXPLORER_REQUEST_PRICE
            + Decimal(self.put_metric_data_requests) / 1000 * PUT_METRIC_DATA_PRICE_PER_1000
            + self.custom_metrics * CUSTOM_METRIC_MONTHLY_PRICE
        )
        return amount.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class MonthlyReport:
    """The figures of one month's summary."""

    month: Month
    total: Decimal
    final: bool
    baseline: Decimal | None
    previous_total: Decimal | None
    credits: Decimal
    daily: list[tuple[date, Decimal]]
    top_services: list[ServiceCost]
    inferences: int
    errors: int
    cost_per_1000_inferences: Decimal | None
    p50_ms: float | None
    p99_ms: float | None
    uptime_percent: Decimal
    restarts: int
    oom_kills: int
    alerts_sent: dict[str, int]
    alerts_suppressed: dict[str, int]
    daemon_usage: DaemonUsage
    advice: CapacityAdvice | None
    notes: list[str] = field(default_factory=list)

    @property
    def percent_of_baseline(self) -> Decimal | None:
        """Total spend as a percentage of the baseline, to one decimal."""
        if not self.baseline:
            return None
        return (self.total / self.baseline * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _mebibytes(value: int) -> int:
    return math.ceil(value / MIB)


def money(value: Decimal) -> Decimal:
    """Round an amount to cents."""
    return value.quantize(CENT, ROUND_HALF_UP)


def daily_totals(rows: Iterable[SpendRow], month: Month) -> list[tuple[date, Decimal]]:
    """Return the net cost of every day of ``month``, zero for days with no rows."""
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.day] += row.amount
    first = month.first_day
    return [
        (day, money(totals[day])) for day in (first + timedelta(days=offset) for offset in range(month.days))
    ]


def service_costs(
    rows: Sequence[SpendRow], previous_rows: Sequence[SpendRow], top: int = 5
) -> list[ServiceCost]:
    """Return the ``top`` services by this month's usage cost, with last month's and the change."""
    current: dict[str, Decimal] = defaultdict(Decimal)
    previous: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        current[row.service] += row.amount
    for row in previous_rows:
        previous[row.service] += row.amount
    ranked = sorted(current.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [
        ServiceCost(
            service=name,
            amount=money(amount),
            previous=money(previous[name]),
            change=money(amount - previous[name]),
        )
        for name, amount in ranked
    ]


def weighted_percentile(values: Sequence[tuple[float, int]], quantile: float) -> float | None:
    """Return the ``quantile`` of ``values`` where each value counts ``weight`` times.

    The nearest-rank method: the smallest value whose cumulative weight
    reaches ``quantile`` of the total.
    """
    ranked = sorted((value, weight) for value, weight in values if weight > 0)
    total = sum(weight for _, weight in ranked)
    if total == 0:
        return None
    needed = quantile * total
    cumulative = 0
    for value, weight in ranked:
        cumulative += weight
        if cumulative >= needed:
            return value
    return ranked[-1][0]


def latency_percentiles(rollups: Sequence[MinuteRollup]) -> tuple[float | None, float | None]:
    """Return the month's p50 and p99 in milliseconds from minute rollups.

    When every minute stored its latency distribution, the month's
    percentiles come from the merged distribution. Otherwise minute
    percentiles cannot be merged exactly: the month's p50 is then the
    request-weighted median of the minute p50s and its p99 the
    request-weighted 99th percentile of the minute p99s, which is at least
    the true p99 when latency varies between minutes.
    """
    if rollups and all(r.latency or not r.requests for r in rollups):
        merged = [pair for r in rollups for pair in r.latency]
        return weighted_percentile(merged, 0.50), weighted_percentile(merged, 0.99)
    p50 = weighted_percentile([(r.p50_ms, r.requests) for r in rollups if r.p50_ms is not None], 0.50)
    p99 = weighted_percentile([(r.p99_ms, r.requests) for r in rollups if r.p99_ms is not None], 0.99)
    return p50, p99


def uptime(
    transitions: Sequence[WorkerTransition], start: datetime, end: datetime, up_at_start: bool
) -> Decimal:
    """Return the percentage of ``[start, end)`` the worker was up, to two decimals."""
    span = (end - start).total_seconds()
    if span <= 0:
        return Decimal("0.00")
    up_seconds = 0.0
    is_up = up_at_start
    since = start
    for transition in sorted(transitions, key=lambda t: t.at):
        moment = min(max(transition.at, start), end)
        if is_up:
            up_seconds += (moment - since).total_seconds()
        is_up = transition.up
        since = moment
    if is_up:
        up_seconds += (end - since).total_seconds()
    percent = Decimal(str(up_seconds)) / Decimal(str(span)) * 100
    return percent.quantize(Decimal("0.01"), ROUND_HALF_UP)


def capacity_advice(rollups: Sequence[MinuteRollup]) -> CapacityAdvice | None:
    """Derive memory and rate-limit sizing from the month's rollups; None without data.

    The memory request is the 95th percentile of the per-minute maximum, the
    limit 1.5 times the observed maximum, ``MemoryHigh=`` 1.25 times it; the
    rate limit is 120 % of the busiest minute's mean request rate.
    """
    memory = sorted(r.max_memory_bytes for r in rollups if r.max_memory_bytes is not None)
    if not memory:
        return None
    observed_max = int(memory[-1])
    p95_index = max(0, math.ceil(0.95 * len(memory)) - 1)
    request = int(memory[p95_index])
    peak_requests = max((r.requests for r in rollups), default=0)
    peak_rate = (Decimal(peak_requests) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return CapacityAdvice(
        memory_request_bytes=request,
        memory_limit_bytes=int(Decimal(observed_max) * MEMORY_LIMIT_FACTOR),
        memory_high_bytes=int(Decimal(observed_max) * MEMORY_HIGH_FACTOR),
        rate_limit_per_second=(peak_rate * RATE_LIMIT_FACTOR).quantize(Decimal("0.1"), ROUND_HALF_UP),
        hpa_cpu_target_percent=HPA_CPU_TARGET_PERCENT,
        observed_max_memory_bytes=observed_max,
        observed_peak_requests_per_second=peak_rate,
    )


@dataclass(frozen=True)
class MonthInputs:
    """The stored inputs of one month's summary, gathered by ``watchdog.reports.collect``."""

    month: Month
    spend: Sequence[SpendRow]
    previous_spend: Sequence[SpendRow]
    baseline: Decimal | None
    rollups: Sequence[MinuteRollup]
    transitions: Sequence[WorkerTransition]
    worker_up_at_start: bool
    alerts_sent: dict[str, int]
    alerts_suppressed: dict[str, int]
    daemon_usage: DaemonUsage
    # Services whose cost counts toward the cost per inference; empty means all.
    inference_services: frozenset[str] = frozenset()
    # The end of the measured span: the month's end, or now for the running month.
    measured_until: datetime | None = None


def build_report(inputs: MonthInputs) -> MonthlyReport:
    """Compute every figure of the monthly summary from ``inputs``."""
    month = inputs.month
    credits = money(sum((row.amount for row in inputs.spend if row.record_type in CREDIT_TYPES), Decimal(0)))
    total = money(sum((row.amount for row in inputs.spend), Decimal(0)))
    previous_total = (
        money(sum((row.amount for row in inputs.previous_spend), Decimal(0)))
        if inputs.previous_spend
        else None
    )
    usage_only = [row for row in inputs.spend if row.record_type not in CREDIT_TYPES]
    previous_usage = [row for row in inputs.previous_spend if row.record_type not in CREDIT_TYPES]

    inferences = sum(r.requests for r in inputs.rollups)
    errors = sum(r.errors for r in inputs.rollups)
    counted = [
        row for row in usage_only if not inputs.inference_services or row.service in inputs.inference_services
    ]
    counted_cost = sum((row.amount for row in counted), Decimal(0))
    cost_per_1000 = (
        (counted_cost / inferences * 1000).quantize(Decimal("0.0001"), ROUND_HALF_UP) if inferences else None
    )

    p50, p99 = latency_percentiles(inputs.rollups)
    end = min(inputs.measured_until or month.end, month.end)
    notes = []
    if any(row.estimated for row in inputs.spend):
        notes.append("Some days are still estimated by AWS; the total may change.")
    if inputs.baseline is None:
        notes.append("No baseline yet: fewer complete months than the baseline needs.")

    return MonthlyReport(
        month=month,
        total=total,
        final=not any(row.estimated for row in inputs.spend) and bool(inputs.spend),
        baseline=inputs.baseline,
        previous_total=previous_total,
        credits=credits,
        daily=daily_totals(inputs.spend, month),
        top_services=service_costs(usage_only, previous_usage),
        inferences=inferences,
        errors=errors,
        cost_per_1000_inferences=cost_per_1000,
        p50_ms=p50,
        p99_ms=p99,
        uptime_percent=uptime(inputs.transitions, month.start, end, inputs.worker_up_at_start),
        restarts=sum(1 for t in inputs.transitions if t.restart),
        oom_kills=sum(1 for t in inputs.transitions if t.oom_kill),
        alerts_sent=dict(sorted(inputs.alerts_sent.items())),
        alerts_suppressed=dict(sorted(inputs.alerts_suppressed.items())),
        daemon_usage=inputs.daemon_usage,
        advice=capacity_advice(inputs.rollups),
        notes=notes,
    )
