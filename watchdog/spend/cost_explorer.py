"""Cost Explorer ``GetCostAndUsage``: which days to read, the request, the pages and the rows.

AWS facts this module is built on (Cost Explorer API reference and its
observed behaviour):

- Each request, and each further page, costs $0.01, so every call is counted.
- ``TimePeriod.End`` is exclusive, and ``Start`` must be before ``End``: a
  month-to-date window on the 1st (``Start == End``) is a ValidationException.
  ``End`` may not lie past the first day of the next month.
- ``GroupBy`` takes at most two groups; here SERVICE and RECORD_TYPE, so that
  credits and refunds (negative amounts) stay apart from usage.
- Pages are chained with ``NextPageToken``; boto3 has no paginator for it.
- Amounts are decimal strings and can be tiny negatives such as
  ``-0.0000000289``; days of an open month are ``Estimated`` and change later.

moto's server accepts Start == End and any number of groups, so this module
enforces those limits itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.errors import InputError
from watchdog.iam import requires_iam
from watchdog.spend.aws_errors import translate_bill_error
from watchdog.spend.calendar import previous_month_start

logger = logging.getLogger(__name__)

SERVICE = "Cost Explorer"
OPERATION = "GetCostAndUsage"
# Cost Explorer rejects a request with more than two GroupBy entries.
MAX_GROUP_BY = 2
GROUP_BY: tuple[Mapping[str, str], ...] = (
    {"Type": "DIMENSION", "Key": "SERVICE"},
    {"Type": "DIMENSION", "Key": "RECORD_TYPE"},
)
CURRENCY = "USD"
# Error codes worth another poll later; any other code needs a person.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "LimitExceededException",
        "ThrottlingException",
        "DataUnavailableException",
        "RequestChangedException",
        "InvalidNextTokenException",
        "ServiceUnavailableException",
        "InternalServerError",
    }
)


@dataclass(frozen=True)
class DateWindow:
    """Days from ``start`` up to but not including ``end``, as Cost Explorer's TimePeriod."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(
                f"invalid Cost Explorer period {self.start}..{self.end}: Start must be before "
                "the exclusive End, so a month-to-date period on the 1st is never sent"
            )

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    @property
    def days(self) -> int:
        """The number of days in the window."""
        return (self.end - self.start).days


@dataclass(frozen=True)
class CostRow:
    """The cost of one day, service and record type, as Cost Explorer reported it."""

    day: date
    service: str
    record_type: str
    amount: Decimal
    estimated: bool


@dataclass
class CostReport:
    """The rows of one poll and the days it covered (a covered day without rows cost nothing)."""

    window: DateWindow
    rows: list[CostRow] = field(default_factory=list)
    days_covered: set[date] = field(default_factory=set)
    pages: int = 0
    # Results for days outside the requested window, which are ignored.
    ignored_days: int = 0


def plan_window(
    today: date,
    reread_days: int,
    previous_month_days: int,
    previous_month_final: bool,
    history_needed_from: date | None,
) -> DateWindow:
    """Return the one window a poll on ``today`` reads.

    It always runs through today (``End`` is tomorrow, at most the 1st of the
    next month) and reaches back ``reread_days`` complete days. Early in a
    month it reaches back to the start of the previous month until that
    month's days are final, and to ``history_needed_from`` when the baseline
    still lacks history.
    """
    start = today - timedelta(days=reread_days)
    in_grace = today.day <= previous_month_days
    if in_grace and not previous_month_final:
        start = min(start, previous_month_start(today))
    if history_needed_from is not None:
        start = min(start, history_needed_from)
    return DateWindow(start, today + timedelta(days=1))


def build_request(
    window: DateWindow, metric: str, next_page_token: str | None = None
) -> dict[str, Any]:
    """Build the ``GetCostAndUsage`` parameters for one page."""
    if len(GROUP_BY) > MAX_GROUP_BY:
        raise ValueError(f"Cost Explorer accepts at most {MAX_GROUP_BY} GroupBy entries")
    request: dict[str, Any] = {
        "TimePeriod": {"Start": window.start.isoformat(), "End": window.end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [metric],
        "GroupBy": [dict(group) for group in GROUP_BY],
    }
    if next_page_token is not None:
        request["NextPageToken"] = next_page_token
    return request


# Cost Explorer writes amounts as plain decimal strings, sometimes in exponent notation.
_AMOUNT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Money is stored as fixed-point text in a 40-character column: at most 15
# integer digits (just under $10^15) and 20 decimal places, so that amounts and
# their sums fit.
MAX_AMOUNT_DIGITS = 15
MAX_AMOUNT_DECIMALS = 20


def parse_amount(text: object, where: str) -> Decimal:
    """Parse a Cost Explorer amount string into a Decimal; raise InputError naming ``where``."""
    if not isinstance(text, str):
        raise InputError(f"invalid Cost Explorer amount {text!r} for {where}: expected a string")
    if not _AMOUNT.fullmatch(text):
        raise InputError(
            f"invalid Cost Explorer amount {text!r} for {where}: expected a decimal number"
        )
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        # An exponent beyond what Decimal can hold.
        raise InputError(
            f"invalid Cost Explorer amount {text!r} for {where}: expected a decimal number"
        ) from exc
    if amount != 0 and amount.adjusted() >= MAX_AMOUNT_DIGITS:
        raise InputError(
            f"invalid Cost Explorer amount {text!r} for {where}: larger than "
            f"{MAX_AMOUNT_DIGITS} digits of dollars"
        )
    if _decimal_places(amount) > MAX_AMOUNT_DECIMALS:
        raise InputError(
            f"invalid Cost Explorer amount {text!r} for {where}: more than "
            f"{MAX_AMOUNT_DECIMALS} decimal places"
        )
    return amount


def _decimal_places(amount: Decimal) -> int:
    """Return the decimal places of ``amount`` without its trailing zeros."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite: the pattern admits no NaN or Infinity
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(-(exponent + trailing_zeros), 0)


def _parse_day(text: object) -> date:
    """Parse a TimePeriod day; raise TypeError or ValueError unless it is ``YYYY-MM-DD``."""
    # date.fromisoformat alone also takes forms such as 20260101 and 2026-W01-1.
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    return date.fromisoformat(text)


def _expect_mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"invalid Cost Explorer {what} {value!r}: expected an object")
    return value


def _expect_list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"invalid Cost Explorer {what} {value!r}: expected a list")
    return value


def parse_page(page: Mapping[str, Any], metric: str, report: CostReport) -> None:
    """Add the rows of one response page to ``report``; raise InputError on a malformed page."""
    page = _expect_mapping(page, "response")
    for entry in _expect_list(page.get("ResultsByTime"), "ResultsByTime"):
        result = _expect_mapping(entry, "ResultsByTime entry")
        period = result.get("TimePeriod") or {}
        try:
            start = _parse_day(period["Start"])
            end = _parse_day(period["End"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"invalid Cost Explorer TimePeriod {period!r}: expected ISO dates Start and End"
            ) from exc
        if (end - start).days != 1:
            raise InputError(
                f"invalid Cost Explorer TimePeriod {start}..{end}: DAILY results span one day"
            )
        if start not in report.window:
            report.ignored_days += 1
            continue

        estimated = result.get("Estimated", False)
        if not isinstance(estimated, bool):
            raise InputError(
                f"invalid Cost Explorer Estimated {estimated!r} on {start}: expected true or false"
            )
        groups = [
            _parse_group(_expect_mapping(group, f"group on {start}"), start, metric, estimated)
            for group in _expect_list(result.get("Groups"), f"Groups on {start}")
        ]
        report.days_covered.add(start)
        report.rows.extend(groups)


def _parse_group(group: Mapping[str, Any], day: date, metric: str, estimated: bool) -> CostRow:
    keys = group.get("Keys") or []
    if (
        not isinstance(keys, list)
        or len(keys) != len(GROUP_BY)
        or not all(isinstance(key, str) for key in keys)
    ):
        raise InputError(
            f"invalid Cost Explorer group keys {keys!r} on {day}: expected service and record type"
        )
    service, record_type = keys
    metrics = _expect_mapping(group.get("Metrics") or {}, f"Metrics of group {service!r} on {day}")
    value = metrics.get(metric)
    if not isinstance(value, Mapping):
        raise InputError(f"Cost Explorer group {service!r} on {day} has no {metric} value")
    where = f"{service!r} {record_type!r} on {day}"
    amount = parse_amount(value.get("Amount"), where)
    unit = value.get("Unit", CURRENCY)
    if unit != CURRENCY:
        raise InputError(f"invalid Cost Explorer unit {unit!r} for {where}: expected {CURRENCY}")
    return CostRow(day, service, record_type, amount, estimated)


def merge_rows(rows: Iterable[CostRow]) -> list[CostRow]:
    """Sum rows that share a day, service and record type (a group split across pages)."""
    merged: dict[tuple[date, str, str], CostRow] = {}
    for row in rows:
        key = (row.day, row.service, row.record_type)
        previous = merged.get(key)
        if previous is None:
            merged[key] = row
        else:
            merged[key] = CostRow(
                row.day,
                row.service,
                row.record_type,
                previous.amount + row.amount,
                previous.estimated or row.estimated,
            )
    return sorted(merged.values(), key=lambda item: (item.day, item.service, item.record_type))


class CostExplorerReader:
    """Reads daily costs through a boto3 ``ce`` client, following every page.

    ``requests`` counts the calls sent, failed ones included, because each is billed.
    """

    def __init__(self, client: Any, metric: str, max_pages: int) -> None:
        self._client = client
        self._metric = metric
        self._max_pages = max_pages
        self.requests = 0

    def read(self, window: DateWindow) -> CostReport:
        """Read every page for ``window`` and return its rows, merged per key."""
        report = CostReport(window)
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            if report.pages >= self._max_pages:
                raise InputError(
                    f"Cost Explorer returned more than {self._max_pages} pages for "
                    f"{window.start}..{window.end}; raise spend.cost_explorer.max_pages if the "
                    "account has that many services"
                )
            page = self._call(build_request(window, self._metric, token))
            report.pages += 1
            parse_page(page, self._metric, report)

            token = page.get("NextPageToken") or None
            if token is None:
                break
            if not isinstance(token, str):
                raise InputError(f"invalid Cost Explorer NextPageToken {token!r}: expected a string")
            if token in seen_tokens:
                raise InputError(f"Cost Explorer repeated NextPageToken {token!r}; stopped paging")
            seen_tokens.add(token)

        report.rows = merge_rows(report.rows)
        if report.ignored_days:
            logger.warning(
                "Cost Explorer returned %d days outside %s..%s; ignored them",
                report.ignored_days,
                window.start,
                window.end,
            )
        return report

    @requires_iam("ce:GetCostAndUsage")
    def _call(self, request: dict[str, Any]) -> Mapping[str, Any]:
        self.requests += 1
        try:
            response: Mapping[str, Any] = self._client.get_cost_and_usage(**request)
        except (ClientError, BotoCoreError) as exc:
            raise translate_bill_error(SERVICE, OPERATION, exc, TRANSIENT_ERROR_CODES) from exc
        return response
