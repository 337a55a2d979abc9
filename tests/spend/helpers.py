"""Helpers of the spend tests: an isolated moto account, pages, a manual clock, a recording sink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from watchdog.alerts.events import AlertEvent
from watchdog.aws import AwsClients


@dataclass(frozen=True, repr=False)
class AccountAwsClients(AwsClients):
    """AWS clients whose requests moto serves from one account of their own.

    moto keeps Cost Explorer's queued results and CloudWatch's data per
    account, so a fresh account per test keeps the shared server's state apart.
    """

    account_id: str = "123456789012"

    def client(self, service: str, region: str | None = None) -> Any:
        created = super().client(service, region)

        def add_account(request: Any, **kwargs: Any) -> None:
            request.headers["x-moto-account-id"] = self.account_id

        created.meta.events.register("request-created", add_account)
        return created


QueueResults = Callable[[list[dict[str, Any]]], None]


def cost_page(
    days: dict[str, list[tuple[str, str, str]]],
    estimated: bool = True,
    next_page_token: str | None = None,
    metric: str = "UnblendedCost",
) -> dict[str, Any]:
    """Build one GetCostAndUsage page: day -> [(service, record type, amount)]."""
    results = []
    for day, groups in days.items():
        start = datetime.fromisoformat(day).date()
        results.append(
            {
                "TimePeriod": {"Start": day, "End": (start + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [service, record_type],
                        "Metrics": {metric: {"Amount": amount, "Unit": "USD"}},
                    }
                    for service, record_type, amount in groups
                ],
                "Estimated": estimated,
            }
        )
    page: dict[str, Any] = {"ResultsByTime": results, "DimensionValueAttributes": []}
    if next_page_token is not None:
        page["NextPageToken"] = next_page_token
    return page


class ManualClock:
    """A clock the test moves by hand."""

    rate = 1.0

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class RecordingSink:
    """An alert sink that keeps every event it is handed."""

    events: list[AlertEvent] = field(default_factory=list)

    def emit(self, event: AlertEvent) -> None:
        self.events.append(event)


@dataclass
class CountingInferences:
    """Inference counts as the metric rollups would report them: (time, count) entries."""

    served: list[tuple[datetime, int]] = field(default_factory=list)

    def add(self, at: datetime, count: int) -> None:
        self.served.append((at, count))

    def count_inferences(self, start: datetime, end: datetime) -> int:
        return sum(count for at, count in self.served if start <= at < end)


