"""CloudWatch ``AWS/Billing`` ``EstimatedCharges``: the month-to-date total, read cheaply.

AWS facts (CloudWatch billing metrics documentation): the metric exists
only in us-east-1, with the dimension ``Currency=USD`` for the account
total. It is updated a few times a day. It is month-to-date, so it falls
back to about $0 when a new month begins. The reset can arrive some hours
after midnight UTC on the 1st, so until the value drops, readings taken on
the 1st still belong to the month before. A reading is never compared with
one of another month, so the rollover is no negative change.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.errors import InputError
from watchdog.iam import requires_iam
from watchdog.spend.aws_errors import translate_bill_error
from watchdog.spend.calendar import month_key, month_start, start_of_day, utc_day

logger = logging.getLogger(__name__)

SERVICE = "CloudWatch"
OPERATION = "GetMetricStatistics"
NAMESPACE = "AWS/Billing"
METRIC_NAME = "EstimatedCharges"
DIMENSIONS = ({"Name": "Currency", "Value": "USD"},)
# One-hour buckets keep the readings apart; 35 days of them stay under the
# 1,440 datapoints that one GetMetricStatistics call returns.
PERIOD_SECONDS = 3600
# How long into a month a reading that has not dropped yet still counts as the month before.
RESET_GRACE = timedelta(days=2)
TRANSIENT_ERROR_CODES = frozenset(
    {"Throttling", "ThrottlingException", "InternalServiceError", "ServiceUnavailable"}
)


@dataclass(frozen=True, order=True)
class ChargeReading:
    """One EstimatedCharges datapoint: the month-to-date total at ``at``."""

    at: datetime
    amount: Decimal


def assign_months(
    readings: Iterable[ChargeReading], previous: ChargeReading | None = None
) -> list[tuple[ChargeReading, str]]:
    """Return each reading with the billing month (``YYYY-MM``) whose total it is.

    A reading belongs to the month of its timestamp, except that early in a
    month (within ``RESET_GRACE``) readings that have not yet dropped below
    the one before still belong to the previous month. ``previous`` is the
    last stored reading before these, if any.
    """
    # NOTE: a month that starts by costing more than the whole previous month
    # shows no drop, so its first two days count for the previous month.
    assigned: list[tuple[ChargeReading, str]] = []
    current_month = month_key(utc_day(previous.at)) if previous is not None else None
    last = previous
    for reading in sorted(readings):
        month = month_key(utc_day(reading.at))
        if current_month is not None and month != current_month:
            dropped = last is not None and reading.amount < last.amount
            in_grace = reading.at - start_of_day(month_start(utc_day(reading.at))) < RESET_GRACE
            if not dropped and in_grace and current_month < month:
                month = current_month
        assigned.append((reading, month))
        current_month = month
        last = reading
    return assigned


def month_to_date(assigned: Sequence[tuple[ChargeReading, str]], month: str) -> Decimal | None:
    """Return the latest total assigned to ``month``, or None when it has no reading."""
    inside = [reading for reading, owner in assigned if owner == month]
    if not inside:
        return None
    return max(inside).amount


class EstimatedChargesReader:
    """Reads EstimatedCharges through a boto3 ``cloudwatch`` client in us-east-1."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.requests = 0

    @requires_iam("cloudwatch:GetMetricStatistics")
    def read(self, start: datetime, end: datetime) -> list[ChargeReading]:
        """Return the hourly maximum readings from ``start`` to ``end``, oldest first."""
        self.requests += 1
        try:
            response = self._client.get_metric_statistics(
                Namespace=NAMESPACE,
                MetricName=METRIC_NAME,
                Dimensions=[dict(dimension) for dimension in DIMENSIONS],
                StartTime=start,
                EndTime=end,
                Period=PERIOD_SECONDS,
                Statistics=["Maximum"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate_bill_error(SERVICE, OPERATION, exc, TRANSIENT_ERROR_CODES) from exc

        readings = [_parse_datapoint(point) for point in response.get("Datapoints") or []]
        return sorted(readings)


def _parse_datapoint(point: Any) -> ChargeReading:
    value = point.get("Maximum")
    at = point.get("Timestamp")
    if not isinstance(at, datetime):
        raise InputError(f"invalid EstimatedCharges timestamp {at!r}: expected a datetime")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"invalid EstimatedCharges value {value!r} at {at}: expected a number")
    # CloudWatch returns a float; its shortest repr is the decimal that was published.
    return ChargeReading(at.astimezone(UTC), Decimal(repr(float(value))))
