"""The simulated account bill of the embedded default, fed into the embedded AWS.

The account ran an inference service for three months at about $420 a
month. In the current month one client starts retrying in a loop on the
4th, traffic climbs every day, and the month heads for about $3,200. The
simulation runs on a fast clock (``seconds_per_day`` real seconds per
simulated day), so the whole month passes in a few minutes and then the
clock stops at the month's last second.

The daemon reads this bill only through the real adapters:

- Cost Explorer: moto returns ``GetCostAndUsage`` results from a queue.
  A hook on the daemon's ``ce`` client queues, just before each request,
  the result for exactly that request (its period and page). The result
  holds the costs as they stood ``COST_EXPLORER_LAG`` earlier, because Cost
  Explorer data lags. moto serves a repeated request from its cache, so
  nothing is queued for a request seen before.
- EstimatedCharges: a thread publishes the month-to-date total to
  ``AWS/Billing`` in moto's CloudWatch every four simulated hours,
  starting two days before the month, so the daemon sees the reset on the 1st.

The simulated start is kept in ``embedded-bill.json`` in the state
directory, so a restarted daemon continues the same month where the clock
says it should be.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import httpx

from watchdog.aws import BILLING_REGION, AwsClients
from watchdog.config.spend import EmbeddedBillSettings
from watchdog.scheduler import utc_now
from watchdog.spend.calendar import (
    days_in_month,
    iter_days,
    month_key,
    month_start,
    next_month_start,
    previous_month_start,
    start_of_day,
    utc_day,
)

logger = logging.getLogger(__name__)

STATE_FILE = "embedded-bill.json"
COMPUTE = "Amazon Elastic Compute Cloud - Compute"
DATA_TRANSFER = "AWS Data Transfer"
CLOUDWATCH = "AmazonCloudWatch"
COST_EXPLORER = "AWS Cost Explorer"
CENT = Decimal("0.01")

# The account's cost structure: instances that run anyway, plus a cost per inference.
FIXED_DAILY = {COMPUTE: Decimal("9.80"), CLOUDWATCH: Decimal("0.30"), COST_EXPLORER: Decimal("0.05")}
PER_INFERENCE = {COMPUTE: Decimal("0.00003"), DATA_TRANSFER: Decimal("0.00001")}
NORMAL_INFERENCES_PER_DAY = 100_000
MONTHLY_CREDIT = Decimal("-10.00")
CREDIT_DAY = 15
# Cost Explorer shows a tiny negative rounding row like this one now and then.
ROUNDING_ROW = Decimal("-0.0000000289")
SPIKE_FIRST_DAY = 4
TARGET_MONTH_TOTAL = Decimal(3200)
HISTORY_MONTHS = 3

COST_EXPLORER_LAG = timedelta(hours=8)
ESTIMATED_CHARGES_EVERY = timedelta(hours=4)
PAGE_DAYS = 31
PUBLISH_SECONDS = 0.5


def fixed_daily_cost() -> Decimal:
    """Return the simulated cost per day that does not depend on traffic."""
    return sum(FIXED_DAILY.values(), Decimal(0))


@dataclass(frozen=True)
class BillModel:
    """The simulated costs and traffic of every day up to the end of ``month``."""

    month: date

    @property
    def spike_step(self) -> int:
        """Extra inferences per day added on each day of the spike, sized to the target total."""
        normal = sum(
            (self._normal_cost(day) for day in iter_days(self.month, next_month_start(self.month))),
            Decimal(0),
        )
        spike_days = days_in_month(self.month) - SPIKE_FIRST_DAY + 1
        steps = spike_days * (spike_days + 1) // 2
        per_inference = sum(PER_INFERENCE.values(), Decimal(0))
        return int((TARGET_MONTH_TOTAL - normal) / per_inference / steps)

    def inferences_on(self, day: date) -> int:
        """Return the inferences served over the whole of ``day``."""
        # A fixed pattern of small daily swings, the same on every run.
        swing = ((day.toordinal() * 7919) % 7 - 3) * 3_000
        served = NORMAL_INFERENCES_PER_DAY + swing
        if month_start(day) == self.month and day.day >= SPIKE_FIRST_DAY:
            served += self.spike_step * (day.day - SPIKE_FIRST_DAY + 1)
        return served

    def _normal_cost(self, day: date) -> Decimal:
        rows = self._rows(day, NORMAL_INFERENCES_PER_DAY)
        return sum(rows.values(), Decimal(0))

    def _rows(self, day: date, inferences: int) -> dict[tuple[str, str], Decimal]:
        rows = {(service, "Usage"): amount for service, amount in FIXED_DAILY.items()}
        for service, price in PER_INFERENCE.items():
            rows[(service, "Usage")] = rows.get((service, "Usage"), Decimal(0)) + price * inferences
        if day.day == CREDIT_DAY:
            rows[(COMPUTE, "Credit")] = MONTHLY_CREDIT
        if day.day == CREDIT_DAY + 1:
            rows[(COST_EXPLORER, "Usage")] += ROUNDING_ROW
        return rows

    def costs_as_of(self, day: date, moment: datetime) -> dict[tuple[str, str], Decimal]:
        """Return the day's cost per (service, record type) as it had accrued at ``moment``."""
        if day >= next_month_start(self.month):
            return {}
        elapsed = moment - start_of_day(day)
        if elapsed <= timedelta(0):
            return {}
        fraction = min(Decimal(elapsed.total_seconds()) / Decimal(86400), Decimal(1))
        rows = self._rows(day, self.inferences_on(day))
        accrued = {}
        for key, amount in rows.items():
            # Credits and the rounding row land whole, at the start of their day.
            share = amount if amount < 0 else amount * fraction
            accrued[key] = share.quantize(Decimal("0.0000000001"))
        return accrued

    def month_to_date(self, moment: datetime) -> Decimal:
        """Return the total of ``moment``'s month up to ``moment``."""
        today = utc_day(moment)
        total = Decimal(0)
        for day in iter_days(month_start(today), today + timedelta(days=1)):
            total += sum(self.costs_as_of(day, moment).values(), Decimal(0))
        return total.quantize(CENT)

    def inferences_between(self, start: datetime, end: datetime) -> int:
        """Return the inferences served from ``start`` to ``end``, traffic spread evenly per day."""
        if end <= start:
            return 0
        total = 0.0
        for day in iter_days(utc_day(start), utc_day(end) + timedelta(days=1)):
            day_start = start_of_day(day)
            overlap = min(end, day_start + timedelta(days=1)) - max(start, day_start)
            if overlap > timedelta(0):
                total += self.inferences_on(day) * overlap.total_seconds() / 86400
        return int(total)


class FastClock:
    """Simulated time that runs ``rate`` times faster than real time and stops at ``end``."""

    def __init__(
        self,
        simulated_start: datetime,
        real_start: datetime,
        seconds_per_day: float,
        end: datetime,
        real_now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.simulated_start = simulated_start
        self.real_start = real_start
        self.end = end
        self._rate = 86400.0 / seconds_per_day
        self._real_now = real_now

    @property
    def rate(self) -> float:
        """Simulated seconds per real second."""
        return self._rate

    def now(self) -> datetime:
        """Return the simulated time."""
        elapsed = (self._real_now() - self.real_start) * self._rate
        return min(self.simulated_start + elapsed, self.end)


def load_clock(
    state_dir: Path, seconds_per_day: float, real_now: Callable[[], datetime] = utc_now
) -> FastClock:
    """Return the clock of the state directory's simulation, starting one if there is none.

    A new simulation starts at midnight UTC on the 1st of the current month.
    One stored for another month or speed is replaced.
    """
    path = state_dir / STATE_FILE
    month = month_start(utc_day(real_now()))
    simulated_start = start_of_day(month)
    real_start = real_now()
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if (
            stored["month"] == month_key(month)
            and float(stored["seconds_per_day"]) == seconds_per_day
        ):
            real_start = datetime.fromisoformat(stored["real_start"]).astimezone(UTC)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    path.write_text(
        json.dumps(
            {
                "month": month_key(month),
                "seconds_per_day": seconds_per_day,
                "real_start": real_start.isoformat(),
            }
        ),
        encoding="utf-8",
    )
    end = start_of_day(next_month_start(month)) - timedelta(seconds=1)
    return FastClock(simulated_start, real_start, seconds_per_day, end, real_now)


class EmbeddedBill:
    """The simulated bill: its clock, its traffic, and its feeds into the embedded AWS."""

    def __init__(
        self,
        endpoint_url: str,
        state_dir: Path,
        settings: EmbeddedBillSettings,
        credentials: tuple[str, str],
        cost_account_id: str | None = None,
    ) -> None:
        """Prepare the bill; ``cost_account_id`` names the moto account that serves Cost Explorer.

        moto caches each GetCostAndUsage response per account. A moto server
        that outlives the daemon (the kill tests run one) needs a fresh
        account per daemon process. Otherwise a restarted bill queues results
        for requests that moto serves from its cache, and a later request
        gets a stale page. None uses moto's default account.
        """
        self._cost_account_id = cost_account_id
        self._endpoint_url = endpoint_url
        self._state_dir = state_dir
        self._settings = settings
        self._credentials = credentials
        self._clock: FastClock | None = None
        self._model: BillModel | None = None
        self._answered: set[str] = set()
        self._answer_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_reading: datetime | None = None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        """Load or start the simulation and begin publishing EstimatedCharges."""
        self._clock = load_clock(self._state_dir, self._settings.seconds_per_day)
        self._model = BillModel(month_start(self._clock.simulated_start.date()))
        self._next_reading = self._clock.simulated_start - timedelta(days=2)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._publish_loop, name="embedded-bill", daemon=True
        )
        self._thread.start()
        logger.info("embedded bill: %s", self.describe())

    def stop(self) -> None:
        """Stop publishing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def clock(self) -> FastClock:
        """The simulation's fast clock."""
        if self._clock is None:
            raise RuntimeError("the embedded bill is not started")
        return self._clock

    @property
    def model(self) -> BillModel:
        """The simulated costs and traffic."""
        if self._model is None:
            raise RuntimeError("the embedded bill is not started")
        return self._model

    def describe(self) -> str:
        """Return one line for the banner."""
        return (
            f"{month_key(self.model.month)} heading for about ${TARGET_MONTH_TOTAL:,} against a "
            f"baseline near $420, {self._settings.seconds_per_day:g} s per simulated day"
        )

    # -- what the daemon reads --------------------------------------------

    def count_inferences(self, start: datetime, end: datetime) -> int:
        """Return the simulated inferences served between two simulated times."""
        return self.model.inferences_between(start, end)

    def install(self, client: Any) -> None:
        """Make ``client`` (a boto3 ``ce`` client) queue the bill's result before each request."""
        client.meta.events.register(
            "provide-client-params.ce.GetCostAndUsage", self._on_cost_request
        )
        if self._cost_account_id is not None:
            client.meta.events.register("request-created.ce", self._add_cost_account)

    def _add_cost_account(self, request: Any, **kwargs: Any) -> None:
        request.headers["x-moto-account-id"] = self._cost_account_id

    def _on_cost_request(self, params: Mapping[str, Any], **kwargs: Any) -> None:
        key = json.dumps(params, sort_keys=True, default=str)
        with self._answer_lock:
            if key in self._answered:
                return
            self._answered.add(key)
        page = self.cost_page(params)
        queued: dict[str, Any] = {"results": [page]}
        if self._cost_account_id is not None:
            queued["account_id"] = self._cost_account_id
        response = httpx.post(
            f"{self._endpoint_url}/moto-api/static/ce/cost-and-usage-results",
            json=queued,
            timeout=10,
        )
        response.raise_for_status()

    def cost_page(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Build the GetCostAndUsage page for the request ``params`` at the current simulated time."""
        period = params["TimePeriod"]
        days = iter_days(date.fromisoformat(period["Start"]), date.fromisoformat(period["End"]))
        token = params.get("NextPageToken")
        page_number = int(str(token).removeprefix("page-")) if token else 0
        chunk = days[page_number * PAGE_DAYS : (page_number + 1) * PAGE_DAYS]
        metric = params["Metrics"][0]
        known_at = self.clock.now() - COST_EXPLORER_LAG
        current = month_start(utc_day(self.clock.now()))

        results = []
        for day in chunk:
            # Days of the open month are estimates, and so is last month until the 3rd.
            estimated = month_start(day) == current or (
                month_start(day) == previous_month_start(current) and utc_day(known_at).day <= 3
            )
            groups = [
                {
                    "Keys": [service, record_type],
                    "Metrics": {metric: {"Amount": format(amount, "f"), "Unit": "USD"}},
                }
                for (service, record_type), amount in sorted(
                    self.model.costs_as_of(day, known_at).items()
                )
            ]
            results.append(
                {
                    "TimePeriod": {
                        "Start": day.isoformat(),
                        "End": (day + timedelta(days=1)).isoformat(),
                    },
                    "Total": {},
                    "Groups": groups,
                    "Estimated": estimated,
                }
            )
        page: dict[str, Any] = {"ResultsByTime": results, "DimensionValueAttributes": []}
        if (page_number + 1) * PAGE_DAYS < len(days):
            page["NextPageToken"] = f"page-{page_number + 1}"
        return page

    # -- EstimatedCharges -------------------------------------------------

    def _publish_loop(self) -> None:
        key_id, secret = self._credentials
        cloudwatch = boto3.session.Session().client(
            "cloudwatch",
            region_name=BILLING_REGION,
            endpoint_url=self._endpoint_url,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        while not self._stop.is_set():
            try:
                self.publish_due(cloudwatch)
            # Readings not published stay due, so the next round publishes them.
            except Exception:
                logger.exception("publishing simulated EstimatedCharges failed")
            self._stop.wait(PUBLISH_SECONDS)

    def publish_due(self, cloudwatch: Any) -> int:
        """Publish every EstimatedCharges reading due by the simulated time; return how many."""
        if self._next_reading is None:
            return 0
        now = self.clock.now()
        moments = []
        moment = self._next_reading
        while moment <= now:
            moments.append(moment)
            moment += ESTIMATED_CHARGES_EVERY

        # PutMetricData takes at most 1,000 items per request.
        for offset in range(0, len(moments), 1000):
            batch = moments[offset : offset + 1000]
            cloudwatch.put_metric_data(
                Namespace="AWS/Billing",
                MetricData=[
                    {
                        "MetricName": "EstimatedCharges",
                        "Dimensions": [{"Name": "Currency", "Value": "USD"}],
                        "Timestamp": at,
                        "Value": float(self.model.month_to_date(at)),
                    }
                    for at in batch
                ],
            )
            # Only what was published moves on, so a failed batch is published next round.
            self._next_reading = batch[-1] + ESTIMATED_CHARGES_EVERY
        return len(moments)


@dataclass(frozen=True, repr=False)
class BillAwsClients(AwsClients):
    """AWS clients whose Cost Explorer clients read the simulated bill."""

    bill: EmbeddedBill | None = None

    def client(
        self,
        service: str,
        region: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Return a new boto3 client; a ``ce`` client gets the bill's hook."""
        created = super().client(service, region, max_attempts=max_attempts, timeout=timeout)
        if service == "ce" and self.bill is not None:
            self.bill.install(created)
        return created
