"""EstimatedCharges read from moto's CloudWatch, across the reset on the 1st."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.spend.conftest import ComponentFactory
from tests.spend.helpers import AccountAwsClients, ManualClock, RecordingSink
from watchdog.aws import BILLING_REGION
from watchdog.errors import PermanentServiceError
from watchdog.spend import repository
from watchdog.spend.estimated_charges import ChargeReading, EstimatedChargesReader
from watchdog.spend.summary import SpendPolicy, load_month, summarize_month
from watchdog.storage import Store

NOVEMBER_END = datetime(2026, 11, 30, 20, tzinfo=UTC)


def publish(aws: AccountAwsClients, readings: list[tuple[datetime, float]]) -> None:
    """Publish EstimatedCharges datapoints as AWS does, into the test's moto account."""
    cloudwatch = aws.client("cloudwatch", region=BILLING_REGION)
    cloudwatch.put_metric_data(
        Namespace="AWS/Billing",
        MetricData=[
            {
                "MetricName": "EstimatedCharges",
                "Dimensions": [{"Name": "Currency", "Value": "USD"}],
                "Timestamp": at,
                "Value": value,
            }
            for at, value in readings
        ],
    )


def test_reader_returns_decimal_readings(account_aws: AccountAwsClients) -> None:
    publish(account_aws, [(NOVEMBER_END, 3150.0), (NOVEMBER_END + timedelta(hours=4), 3190.25)])
    reader = EstimatedChargesReader(account_aws.client("cloudwatch", region=BILLING_REGION))

    readings = reader.read(NOVEMBER_END - timedelta(days=1), NOVEMBER_END + timedelta(days=1))

    assert readings == [
        ChargeReading(NOVEMBER_END, Decimal("3150.0")),
        ChargeReading(NOVEMBER_END + timedelta(hours=4), Decimal("3190.25")),
    ]
    assert reader.requests == 1


def test_rollover_is_new_month_not_drop(
    account_aws: AccountAwsClients, store: Store, make_component: ComponentFactory
) -> None:
    publish(
        account_aws,
        [
            (NOVEMBER_END, 3150.0),
            (datetime(2026, 12, 1, 0, tzinfo=UTC), 3190.25),
            (datetime(2026, 12, 1, 4, tzinfo=UTC), 4.2),
            (datetime(2026, 12, 1, 8, tzinfo=UTC), 12.4),
        ],
    )
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(
        clock, sink, baseline_amount="420", cost_explorer={"enabled": False}
    )

    component.poll_estimated_charges()

    policy = SpendPolicy()
    with store.session() as session:
        november = summarize_month(load_month(session, date(2026, 11, 1), policy), policy)
        december = summarize_month(load_month(session, date(2026, 12, 1), policy), policy)
        december_readings = repository.readings_of_month(session, "2026-12")
        counts = repository.request_counts(session, "2026-12")
    assert november.month_to_date == Decimal("3190.25")
    assert december.month_to_date == Decimal("12.4")
    # The month's first reading is its first change: no negative step from $3,190.25.
    assert [reading.amount for reading in december_readings] == [Decimal("4.2"), Decimal("12.4")]
    assert sink.events == []
    assert counts == {"cloudwatch:GetMetricStatistics": 1}


def test_rejected_request_is_permanent(account_aws: AccountAwsClients) -> None:
    reader = EstimatedChargesReader(account_aws.client("cloudwatch", region=BILLING_REGION))

    with pytest.raises(PermanentServiceError) as raised:
        reader.read(NOVEMBER_END, NOVEMBER_END - timedelta(hours=1))

    assert str(raised.value).startswith(
        "CloudWatch GetMetricStatistics failed: InvalidParameterValue: The parameter StartTime"
    )
