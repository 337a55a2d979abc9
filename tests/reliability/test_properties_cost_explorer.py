"""Generated GetCostAndUsage responses through the Cost Explorer parser and reader.

Valid responses, split over ``NextPageToken`` pages, must give exactly the
Decimal amounts, days and flags that were generated. Broken ones must
raise ``InputError`` naming the value or key that was wrong. They miss a
key, carry a value of the wrong type, an amount that is not a number, a
currency other than USD, or a date that is not an ISO day.

The paging property drives a real boto3 ``ce`` client whose HTTP layer is
botocore's ``Stubber``, which checks each request and each page against
Cost Explorer's service model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.conftest import FaultLedger
from tests.reliability.property_runs import PROPERTY_SETTINGS, Tally, run_property
from watchdog.errors import InputError
from watchdog.spend.cost_explorer import (
    CostExplorerReader,
    CostReport,
    CostRow,
    DateWindow,
    build_request,
    parse_page,
)

METRIC = "UnblendedCost"
FIRST_DAY = date(2026, 1, 1)
SERVICES = ["Amazon Elastic Compute Cloud - Compute", "Amazon CloudWatch", "AWS Cost Explorer", "Tax"]
RECORD_TYPES = ["Usage", "Credit", "Refund", "Tax"]

# Amounts as Cost Explorer writes them: up to 12 decimal places, credits negative.
amounts = st.builds(
    lambda mantissa, places: Decimal(mantissa).scaleb(-places),
    st.integers(min_value=-(10**14), max_value=10**14),
    st.integers(min_value=0, max_value=12),
)


def amount_text(amount: Decimal, exponent_form: bool) -> str:
    # str() writes tiny amounts such as 2.89E-8 in exponent notation, as Java services do.
    return str(amount) if exponent_form else format(amount, "f")


@st.composite
def cost_pages(
    draw: st.DrawFn,
) -> tuple[DateWindow, list[dict[str, Any]], list[tuple[date, str, str, Decimal, bool]]]:
    """Draw a window, its pages and the (day, service, record type, amount, estimated) they carry."""
    start = FIRST_DAY + timedelta(days=draw(st.integers(min_value=0, max_value=400)))
    window = DateWindow(start, start + timedelta(days=draw(st.integers(min_value=1, max_value=40))))
    page_count = draw(st.integers(min_value=1, max_value=3))
    pages = []
    carried = []
    for number in range(page_count):
        results = []
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            # Days up to two beyond each end, which the reader must ignore.
            offset = draw(st.integers(min_value=-2, max_value=window.days + 1))
            day = window.start + timedelta(days=offset)
            estimated = draw(st.booleans())
            groups = []
            for _ in range(draw(st.integers(min_value=0, max_value=3))):
                service = draw(st.sampled_from(SERVICES))
                record_type = draw(st.sampled_from(RECORD_TYPES))
                amount = draw(amounts)
                text = amount_text(amount, draw(st.booleans()))
                groups.append(
                    {"Keys": [service, record_type], "Metrics": {METRIC: {"Amount": text, "Unit": "USD"}}}
                )
                carried.append((day, service, record_type, amount, estimated))
            results.append(
                {
                    "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                    "Total": {},
                    "Groups": groups,
                    "Estimated": estimated,
                }
            )
        page: dict[str, Any] = {"ResultsByTime": results, "DimensionValueAttributes": []}
        if number < page_count - 1:
            page["NextPageToken"] = f"token-{number}"
        pages.append(page)
    return window, pages, carried


def expected_rows(window: DateWindow, carried: list[tuple[date, str, str, Decimal, bool]]) -> list[CostRow]:
    merged: dict[tuple[date, str, str], CostRow] = {}
    for day, service, record_type, amount, estimated in carried:
        if day not in window:
            continue
        key = (day, service, record_type)
        before = merged.get(key)
        if before is None:
            merged[key] = CostRow(day, service, record_type, amount, estimated)
        else:
            merged[key] = CostRow(
                day, service, record_type, before.amount + amount, before.estimated or estimated
            )
    return [merged[key] for key in sorted(merged)]


@pytest.fixture
def stubbed_ce() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def test_cost_pages_parse_exactly(
    request: pytest.FixtureRequest, fault_ledger: FaultLedger, stubbed_ce: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed_ce
    tally = Tally()

    @PROPERTY_SETTINGS
    @given(drawn=cost_pages())
    def check(
        drawn: tuple[DateWindow, list[dict[str, Any]], list[tuple[date, str, str, Decimal, bool]]],
    ) -> None:
        with tally.case():
            window, pages, carried = drawn
            token = None
            for page in pages:
                stubber.add_response("get_cost_and_usage", page, build_request(window, METRIC, token))
                token = page.get("NextPageToken")
            reader = CostExplorerReader(client, METRIC, max_pages=10)

            report = reader.read(window)

            stubber.assert_no_pending_responses()
            days = [
                day
                for page in pages
                for result in page["ResultsByTime"]
                for day in [date.fromisoformat(result["TimePeriod"]["Start"])]
            ]
            assert report.rows == expected_rows(window, carried)
            assert report.days_covered == {day for day in days if day in window}
            assert report.ignored_days == sum(1 for day in days if day not in window)
            assert report.pages == len(pages)
            assert reader.requests == len(pages)

    run_property(request, fault_ledger, "Cost Explorer pages", check, tally)


def base_page(day: date) -> dict[str, Any]:
    return {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": [
                    {
                        "Keys": ["Amazon CloudWatch", "Usage"],
                        "Metrics": {METRIC: {"Amount": "1.25", "Unit": "USD"}},
                    }
                ],
                "Estimated": True,
            }
        ]
    }


# Values of the wrong kind for any field of a response.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# Amount texts: numbers in every notation, huge and tiny exponents, and words.
amount_texts = st.one_of(
    st.text(alphabet="0123456789.-+eE", max_size=12),
    st.text(max_size=8),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-inf",
            "1e999999999",
            "1e-40",
            "1_000",
            " 1.5",
            "\uff11\uff12",
            "1e15",
            "999999999999999.99",
        ]
    ),
    amounts.map(str),
)
date_texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-02-30",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+00:00",
            "9999-12-31",
            "0001-01-01",
            "20260101",
            "2026-W01-1",
            "",
        ]
    ),
    st.dates().map(date.isoformat),
)


@st.composite
def broken_pages(draw: st.DrawFn) -> tuple[dict[str, Any], str, object]:  # noqa: PLR0912 one branch per part
    """Draw a page with one part broken, the path of that part and the value put there."""
    page = copy.deepcopy(base_page(FIRST_DAY))
    result = page["ResultsByTime"][0]
    group = result["Groups"][0]
    target = draw(
        st.sampled_from(
            [
                "page",
                "ResultsByTime",
                "result",
                "TimePeriod",
                "Start",
                "End",
                "Estimated",
                "Groups",
                "group",
                "Keys",
                "Metrics",
                "metric",
                "Amount",
                "Unit",
                "drop",
            ]
        )
    )
    if target in ("Start", "End"):
        value: object = draw(st.one_of(date_texts, junk))
        result["TimePeriod"][target] = value
    elif target == "Amount":
        value = draw(st.one_of(amount_texts, junk))
        group["Metrics"][METRIC]["Amount"] = value
    elif target == "Unit":
        value = draw(st.one_of(st.sampled_from(["USD", "usd", "EUR", "", "USD "]), junk))
        group["Metrics"][METRIC]["Unit"] = value
    elif target == "drop":
        value = draw(
            st.sampled_from(
                ["TimePeriod", "Start", "Groups", "Keys", "Metrics", "Amount", "Unit", "Estimated"]
            )
        )
        holder = {
            "TimePeriod": result,
            "Start": result["TimePeriod"],
            "Groups": result,
            "Estimated": result,
            "Keys": group,
            "Metrics": group,
            "Amount": group["Metrics"][METRIC],
            "Unit": group["Metrics"][METRIC],
        }[str(value)]
        del holder[str(value)]
    else:
        value = draw(junk)
        if target == "page":
            page = value  # type: ignore[assignment]
        elif target == "ResultsByTime":
            page["ResultsByTime"] = value
        elif target == "result":
            page["ResultsByTime"][0] = value
        elif target == "TimePeriod":
            result["TimePeriod"] = value
        elif target == "Estimated":
            result["Estimated"] = value
        elif target == "Groups":
            result["Groups"] = value
        elif target == "group":
            result["Groups"][0] = value
        elif target == "Keys":
            group["Keys"] = value
        elif target == "Metrics":
            group["Metrics"] = value
        else:
            group["Metrics"][METRIC] = value
    return page, target, value


# Parts whose error may name the part, or the key missing inside it, instead of the value.
STRUCTURE_WORDS = {
    "page": ["response"],
    "ResultsByTime": ["ResultsByTime"],
    "result": ["ResultsByTime", "TimePeriod"],
    "TimePeriod": ["TimePeriod"],
    "Groups": ["Groups"],
    "group": ["group", "keys"],
    "Metrics": [METRIC],
    "metric": [METRIC, "amount"],
    # Keys that are missing or empty read as an empty list.
    "Keys": ["keys []"],
}
ORIGINAL = base_page(FIRST_DAY)["ResultsByTime"][0]["TimePeriod"]


def accepted(target: str, value: object) -> bool | None:  # noqa: PLR0911 one rule per part
    """Return whether the parser must accept the page, or None when only the parser can tell."""
    if target == "Amount":
        return None
    if target == "page":
        return isinstance(value, dict)
    if target in ("ResultsByTime", "Groups"):
        return value is None or value == []
    if target == "Estimated":
        return isinstance(value, bool)
    if target == "Unit":
        return value == "USD"
    if target in ("Start", "End"):
        return isinstance(value, str) and value == ORIGINAL[target]
    if target == "drop":
        return value in ("Groups", "Unit", "Estimated")
    return False


def parsed_alone(page: dict[str, Any]) -> CostReport:
    report = CostReport(DateWindow(FIRST_DAY, FIRST_DAY + timedelta(days=1)))
    parse_page(page, METRIC, report)
    return report


def test_broken_cost_pages_name_the_value(request: pytest.FixtureRequest, fault_ledger: FaultLedger) -> None:
    tally = Tally()

    @PROPERTY_SETTINGS
    @given(broken=broken_pages())
    def check(broken: tuple[dict[str, Any], str, object]) -> None:
        with tally.case():
            page, target, value = broken

            expected = accepted(target, value)

            try:
                report = parsed_alone(page)
            except InputError as exc:
                message = str(exc).lower()
                named = [repr(value), str(value)] if target != "drop" else [str(value), METRIC]
                named += STRUCTURE_WORDS.get(target, [])
                if isinstance(value, list):
                    # A list is rejected by the entry that is wrong.
                    named += [repr(item) for item in value]
                assert any(word.lower() in message for word in named), message
                assert expected is not True, message
                return

            assert expected is not False
            if target == "Amount":
                assert isinstance(value, str)
                amount = Decimal(value)
                assert report.rows[0].amount == amount
                assert amount.is_finite()
                assert abs(amount) < Decimal("1e15")
            if target == "Estimated":
                assert report.rows[0].estimated is value

    run_property(request, fault_ledger, "Cost Explorer malformed pages", check, tally)
