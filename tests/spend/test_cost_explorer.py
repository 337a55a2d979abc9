"""The Cost Explorer reader against moto's server, with queued GetCostAndUsage results."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.spend.helpers import AccountAwsClients, QueueResults, cost_page
from watchdog.aws import AwsClients
from watchdog.config.sections import AwsSettings
from watchdog.errors import InputError, TransientServiceError
from watchdog.spend import repository
from watchdog.spend.cost_explorer import (
    CostExplorerReader,
    CostRow,
    DateWindow,
    build_request,
    plan_window,
)
from watchdog.storage import Store
from watchdog.storage.models import SpendDailyCost

EC2 = "Amazon Elastic Compute Cloud - Compute"
CW = "AmazonCloudWatch"


def ce_client(aws: AccountAwsClients, sent: list[dict[str, Any]]) -> Any:
    """Return a ``ce`` client that also records the parameters of every request it sends."""
    client = aws.client("ce", region="us-east-1")

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        sent.append(dict(params))

    client.meta.events.register("provide-client-params.ce.GetCostAndUsage", record)
    return client


def store_report(store: Store, rows: list[CostRow], days: set[date], at: datetime) -> None:
    with store.write_session() as session:
        repository.upsert_costs(
            session, rows, days, metric="UnblendedCost", source="cost_explorer", fetched_at=at
        )


def stored(store: Store) -> list[tuple[date, str, str, Decimal, bool]]:
    with store.session() as session:
        rows = session.query(SpendDailyCost).order_by(
            SpendDailyCost.day, SpendDailyCost.service, SpendDailyCost.record_type
        )
        return [(r.day, r.service, r.record_type, r.amount, r.estimated) for r in rows]


def test_reader_follows_pages_and_keeps_credits(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults, store: Store
) -> None:
    queue_cost_results(
        [
            cost_page(
                {"2026-12-08": [(EC2, "Usage", "13.9876543210"), (CW, "Usage", "0.31")]},
                next_page_token="page-2",
            ),
            cost_page(
                {
                    "2026-12-08": [(EC2, "Credit", "-12.50")],
                    "2026-12-09": [(EC2, "Usage", "14.02"), (CW, "Usage", "-0.0000000289")],
                },
                next_page_token="page-3",
            ),
            cost_page({"2026-12-10": [(EC2, "Usage", "3.10")]}),
        ]
    )
    sent: list[dict[str, Any]] = []
    reader = CostExplorerReader(ce_client(account_aws, sent), "UnblendedCost", max_pages=10)

    report = reader.read(DateWindow(date(2026, 12, 8), date(2026, 12, 11)))
    store_report(store, report.rows, report.days_covered, datetime(2026, 12, 10, 9, tzinfo=UTC))

    assert report.pages == 3
    assert reader.requests == 3
    assert [request.get("NextPageToken") for request in sent] == [None, "page-2", "page-3"]
    assert stored(store) == [
        (date(2026, 12, 8), EC2, "Credit", Decimal("-12.50"), True),
        (date(2026, 12, 8), EC2, "Usage", Decimal("13.9876543210"), True),
        (date(2026, 12, 8), CW, "Usage", Decimal("0.31"), True),
        (date(2026, 12, 9), EC2, "Usage", Decimal("14.02"), True),
        (date(2026, 12, 9), CW, "Usage", Decimal("-0.0000000289"), True),
        (date(2026, 12, 10), EC2, "Usage", Decimal("3.10"), True),
    ]


def test_request_groups_by_service_and_record_type(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults
) -> None:
    queue_cost_results([cost_page({})])
    sent: list[dict[str, Any]] = []
    reader = CostExplorerReader(ce_client(account_aws, sent), "AmortizedCost", max_pages=10)

    reader.read(DateWindow(date(2026, 12, 8), date(2026, 12, 11)))

    assert sent == [
        {
            "TimePeriod": {"Start": "2026-12-08", "End": "2026-12-11"},
            "Granularity": "DAILY",
            "Metrics": ["AmortizedCost"],
            "GroupBy": [
                {"Type": "DIMENSION", "Key": "SERVICE"},
                {"Type": "DIMENSION", "Key": "RECORD_TYPE"},
            ],
        }
    ]


def test_estimated_day_replaced_by_final_amount(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults, store: Store
) -> None:
    queue_cost_results(
        [
            cost_page({"2026-12-09": [(EC2, "Usage", "10.00"), (CW, "Usage", "0.40")]}),
            cost_page({"2026-12-09": [(EC2, "Usage", "10.37")]}, estimated=False),
        ]
    )
    reader = CostExplorerReader(account_aws.client("ce", "us-east-1"), "UnblendedCost", 10)
    first = reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 10)))
    store_report(store, first.rows, first.days_covered, datetime(2026, 12, 10, tzinfo=UTC))

    later = reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 12)))
    store_report(store, later.rows, later.days_covered, datetime(2026, 12, 11, tzinfo=UTC))
    store_report(store, later.rows, later.days_covered, datetime(2026, 12, 11, tzinfo=UTC))

    # The final day has one row with the revised amount; CloudWatch no longer costs anything.
    assert stored(store) == [(date(2026, 12, 9), EC2, "Usage", Decimal("10.37"), False)]


def test_end_day_is_exclusive(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults
) -> None:
    queue_cost_results(
        [
            cost_page(
                {
                    "2026-12-09": [(EC2, "Usage", "14.00")],
                    "2026-12-10": [(EC2, "Usage", "99.00")],
                }
            )
        ]
    )
    reader = CostExplorerReader(account_aws.client("ce", "us-east-1"), "UnblendedCost", 10)

    report = reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 10)))

    assert [row.day for row in report.rows] == [date(2026, 12, 9)]
    assert report.days_covered == {date(2026, 12, 9)}
    assert report.ignored_days == 1


def test_first_of_month_reads_previous_month_through_today(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults, store: Store
) -> None:
    window = plan_window(
        date(2026, 12, 1),
        reread_days=3,
        previous_month_days=5,
        previous_month_final=False,
        history_needed_from=None,
    )
    queue_cost_results(
        [
            cost_page(
                {
                    "2026-11-30": [(EC2, "Usage", "14.00")],
                    "2026-12-01": [(EC2, "Usage", "0.58")],
                }
            )
        ]
    )
    sent: list[dict[str, Any]] = []
    reader = CostExplorerReader(ce_client(account_aws, sent), "UnblendedCost", 10)

    report = reader.read(window)

    assert window == DateWindow(date(2026, 11, 1), date(2026, 12, 2))
    assert sent[0]["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-12-02"}
    assert [(row.day, row.amount) for row in report.rows] == [
        (date(2026, 11, 30), Decimal("14.00")),
        (date(2026, 12, 1), Decimal("0.58")),
    ]


def test_empty_period_is_never_built() -> None:
    with pytest.raises(ValueError, match="Start must be before the exclusive End"):
        DateWindow(date(2026, 12, 1), date(2026, 12, 1))


@pytest.mark.parametrize(
    ("today", "final", "history", "expected"),
    [
        (date(2026, 12, 15), False, None, (date(2026, 12, 12), date(2026, 12, 16))),
        (date(2026, 12, 3), False, None, (date(2026, 11, 1), date(2026, 12, 4))),
        (date(2026, 12, 3), True, None, (date(2026, 11, 30), date(2026, 12, 4))),
        (date(2026, 12, 6), False, None, (date(2026, 12, 3), date(2026, 12, 7))),
        (date(2026, 12, 31), False, None, (date(2026, 12, 28), date(2027, 1, 1))),
        (
            date(2026, 12, 15),
            True,
            date(2026, 9, 1),
            (date(2026, 9, 1), date(2026, 12, 16)),
        ),
    ],
)
def test_plan_window(
    today: date, final: bool, history: date | None, expected: tuple[date, date]
) -> None:
    window = plan_window(today, 3, 5, final, history)

    assert (window.start, window.end) == expected


def test_build_request_sends_at_most_two_group_bys() -> None:
    request = build_request(DateWindow(date(2026, 12, 1), date(2026, 12, 2)), "UnblendedCost", "t")

    assert len(request["GroupBy"]) == 2
    assert request["NextPageToken"] == "t"


def test_malformed_amount_names_the_value(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults
) -> None:
    queue_cost_results([cost_page({"2026-12-09": [(EC2, "Usage", "12,50")]})])
    reader = CostExplorerReader(account_aws.client("ce", "us-east-1"), "UnblendedCost", 10)

    with pytest.raises(InputError, match="invalid Cost Explorer amount '12,50' for"):
        reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 10)))


def test_page_limit_stops_runaway_pagination(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults
) -> None:
    queue_cost_results(
        [cost_page({}, next_page_token=f"page-{number}") for number in range(2, 6)]
    )
    reader = CostExplorerReader(account_aws.client("ce", "us-east-1"), "UnblendedCost", 3)

    with pytest.raises(InputError, match="more than 3 pages"):
        reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 10)))
    assert reader.requests == 3


def test_repeated_token_stops_pagination(
    account_aws: AccountAwsClients, queue_cost_results: QueueResults
) -> None:
    queue_cost_results(
        [cost_page({}, next_page_token="same"), cost_page({}, next_page_token="same")]
    )
    reader = CostExplorerReader(account_aws.client("ce", "us-east-1"), "UnblendedCost", 10)

    with pytest.raises(InputError, match="repeated NextPageToken 'same'"):
        reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 10)))


def test_unreachable_endpoint_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = AwsSettings(endpoint_url=f"http://127.0.0.1:{closed_port}", max_attempts=1)
    clients = AwsClients(settings, access_key_id="local", secret_access_key="local")
    reader = CostExplorerReader(clients.client("ce", "us-east-1"), "UnblendedCost", 10)

    with pytest.raises(TransientServiceError, match="Cost Explorer GetCostAndUsage failed"):
        reader.read(DateWindow(date(2026, 12, 9), date(2026, 12, 10)))
    assert reader.requests == 1
