"""Parsing a CSV of daily costs for ``spend import``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from watchdog.errors import InputError
from watchdog.spend.cost_explorer import CostRow
from watchdog.spend.importer import parse_cost_csv


def test_long_layout_with_record_types() -> None:
    text = (
        "date,service,record_type,amount,estimated\n"
        "2026-09-01,Amazon EC2,Usage,13.50,false\n"
        "2026-09-01,Amazon EC2,Credit,-2.00,false\n"
        "2026-09-02,Amazon EC2,Usage,-0.0000000289,true\n"
    )

    rows = parse_cost_csv(text, "costs.csv")

    assert rows == [
        CostRow(date(2026, 9, 1), "Amazon EC2", "Usage", Decimal("13.50"), False),
        CostRow(date(2026, 9, 1), "Amazon EC2", "Credit", Decimal("-2.00"), False),
        CostRow(date(2026, 9, 2), "Amazon EC2", "Usage", Decimal("-0.0000000289"), True),
    ]


def test_minimal_layout_uses_total_service() -> None:
    rows = parse_cost_csv('day,cost\n2026-09-01,"$1,013.50"\n', "f.csv")

    assert rows == [CostRow(date(2026, 9, 1), "Total", "Usage", Decimal("1013.50"), False)]


def test_cost_explorer_export_layout() -> None:
    text = (
        "Service,EC2-Instances($),S3($),Total costs($)\n"
        "Service total,400.00,20.00,420.00\n"
        "2026-09-01,13.00,0.50,13.50\n"
        "2026-09-02,13.10,,13.10\n"
    )

    rows = parse_cost_csv(text, "export.csv")

    assert rows == [
        CostRow(date(2026, 9, 1), "EC2-Instances", "Usage", Decimal("13.00"), False),
        CostRow(date(2026, 9, 1), "S3", "Usage", Decimal("0.50"), False),
        CostRow(date(2026, 9, 2), "EC2-Instances", "Usage", Decimal("13.10"), False),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "date,amount\n2026-09-01,1\n2026-09-02,abc\n",
            "f.csv line 3, column 'amount': invalid amount 'abc': expected a number such as 12.34",
        ),
        (
            "date,amount\n2026-13-01,1\n",
            "f.csv line 2, column 'date': invalid date '2026-13-01': expected YYYY-MM-DD",
        ),
        ("date,amount\n2026-09-01,NaN\n", "f.csv line 2, column 'amount': invalid amount 'NaN'"),
        (
            "Service,EC2($)\n2026-09-01,1\n2026-09-02,x1\n",
            "f.csv line 3, column 'EC2($)': invalid amount 'x1'",
        ),
        (
            "date,amount\n2026-09-01,1\n2026-09-01,2\n",
            "f.csv line 3: 2026-09-01 'Total' 'Usage' repeats line 2",
        ),
        ("date,amount\n2026-09-01\n", "f.csv line 2: 1 columns, expected 2 as in the header"),
        ("when,what\n2026-09-01,1\n", "needs a 'date' and an 'amount' column"),
        ("", "f.csv is empty"),
    ],
)
def test_bad_cell_names_line_and_column(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_cost_csv(text, "f.csv")

    assert message in str(raised.value)
