"""``spend import``: daily costs from a CSV file, all rows or none.

Two layouts are read:

- one row per day and service, with a header naming the columns ``date``
  (or ``day``), ``amount`` (or ``cost``) and optionally ``service``,
  ``record_type`` and ``estimated``;
- the Cost Explorer console export: a first column ``Service`` holding the
  dates, one column per service named like ``EC2-Instances($)``, a
  ``Service total`` row and a ``Total costs($)`` column, which are skipped.

Any invalid cell rejects the whole file with its line and column named.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from watchdog.errors import InputError
from watchdog.spend.cost_explorer import CostRow

DEFAULT_SERVICE = "Total"
DEFAULT_RECORD_TYPE = "Usage"
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


class _CsvReader(Protocol):
    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


@dataclass(frozen=True)
class _Cell:
    source: str
    line: int
    column: str

    def error(self, message: str) -> InputError:
        return InputError(f"{self.source} line {self.line}, column {self.column!r}: {message}")


def _parse_day(text: str, cell: _Cell) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise cell.error(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def _parse_amount(text: str, cell: _Cell) -> Decimal:
    cleaned = text.strip().replace(",", "").removeprefix("$")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise cell.error(f"invalid amount {text!r}: expected a number such as 12.34") from None
    if not amount.is_finite():
        raise cell.error(f"invalid amount {text!r}: expected a finite number")
    return amount


def _parse_estimated(text: str, cell: _Cell) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise cell.error(f"invalid estimated flag {text!r}: expected true or false")


def parse_cost_csv(text: str, source: str) -> list[CostRow]:
    """Parse the CSV ``text`` (from file ``source``) into cost rows; raise InputError on any bad cell."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for fields in reader:
        if any(field.strip() for field in fields):
            header = [field.strip() for field in fields]
            break
    if header is None:
        raise InputError(f"{source} is empty: expected a header row and daily costs")

    names = [name.lower().replace(" ", "_") for name in header]
    if names[0] == "service" and _column(names, "date", "day") is None:
        rows = _parse_wide(reader, header, source)
    else:
        rows = _parse_long(reader, names, header, source)
    if not rows:
        raise InputError(f"{source} has a header but no daily costs")
    return rows


def _column(names: list[str], *candidates: str) -> int | None:
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    return None


def _parse_long(
    reader: _CsvReader, names: list[str], header: list[str], source: str
) -> list[CostRow]:
    day_index = _column(names, "date", "day")
    amount_index = _column(names, "amount", "cost")
    if day_index is None or amount_index is None:
        raise InputError(
            f"{source} line {reader.line_num}: header {header!r} needs a 'date' and an "
            "'amount' column, or 'Service' first as in a Cost Explorer export"
        )
    service_index = _column(names, "service")
    record_index = _column(names, "record_type")
    estimated_index = _column(names, "estimated")

    rows: list[CostRow] = []
    first_line: dict[tuple[date, str, str], int] = {}
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        line = reader.line_num
        if len(fields) != len(header):
            raise InputError(
                f"{source} line {line}: {len(fields)} columns, expected {len(header)} as in the header"
            )
        day = _parse_day(fields[day_index], _Cell(source, line, header[day_index]))
        amount = _parse_amount(fields[amount_index], _Cell(source, line, header[amount_index]))
        service = fields[service_index].strip() if service_index is not None else DEFAULT_SERVICE
        record_type = (
            fields[record_index].strip() if record_index is not None else DEFAULT_RECORD_TYPE
        )
        if not service:
            raise _Cell(source, line, header[service_index or 0]).error("empty service name")
        estimated = False
        if estimated_index is not None:
            cell = _Cell(source, line, header[estimated_index])
            estimated = _parse_estimated(fields[estimated_index], cell)

        key = (day, service, record_type or DEFAULT_RECORD_TYPE)
        if key in first_line:
            raise InputError(
                f"{source} line {line}: {day} {service!r} {key[2]!r} repeats line {first_line[key]}"
            )
        first_line[key] = line
        rows.append(CostRow(day, service, key[2], amount, estimated))
    return rows


def _parse_wide(reader: _CsvReader, header: list[str], source: str) -> list[CostRow]:
    services = {
        index: name.removesuffix("($)").strip()
        for index, name in enumerate(header)
        if index > 0 and not name.lower().startswith("total cost")
    }
    rows: list[CostRow] = []
    seen: dict[date, int] = {}
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        line = reader.line_num
        label = fields[0].strip()
        if label.lower() in {"service total", "total"}:
            continue
        if len(fields) != len(header):
            raise InputError(
                f"{source} line {line}: {len(fields)} columns, expected {len(header)} as in the header"
            )
        day = _parse_day(label, _Cell(source, line, header[0]))
        if day in seen:
            raise InputError(f"{source} line {line}: {day} repeats line {seen[day]}")
        seen[day] = line
        for index, service in services.items():
            if not fields[index].strip():
                continue
            amount = _parse_amount(fields[index], _Cell(source, line, header[index]))
            rows.append(CostRow(day, service, DEFAULT_RECORD_TYPE, amount, False))
    return rows
