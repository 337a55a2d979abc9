"""Generated /metrics bodies through the scrape adapter, the exposition parser and the window math.

Each case must end in exactly the parsed values, or in the project's own
``InputError`` or ``TransientServiceError`` naming what was wrong. The
windows built from whatever parsed must contain only values that
CloudWatch and the rollup table accept.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.metrics.conftest import ExpositionServer
from tests.reliability.conftest import FaultLedger
from tests.reliability.property_runs import PROPERTY_SETTINGS, Tally, run_property
from watchdog.errors import InputError, TransientServiceError
from watchdog.metrics.datums import format_window
from watchdog.metrics.exposition import (
    LINE_QUOTE_LIMIT,
    Exposition,
    label_set,
    parse_exposition,
    series_text,
)
from watchdog.metrics.limits import MAX_ABS_VALUE, enforce_limits
from watchdog.metrics.presets import PRESETS, REFERENCE, WorkerReading
from watchdog.metrics.rollups import merge_window
from watchdog.metrics.scrape import MetricsScraper
from watchdog.metrics.window import build_window, compute_deltas

NOW = datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC)
WINDOW_START = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
DIMENSIONS = [(("Service", "inference"), ("Host", "test-host"))]
MAX_BYTES = 512
SQLITE_MAX_INTEGER = 2**63 - 1
LINE_ERROR = re.compile(r"at line (\d+) ")

# Names the presets read, so that generated expositions reach the window math.
PRESET_GAUGES = ["inference_queue_depth", "inference_in_flight", "vllm:num_requests_waiting"]
PRESET_COUNTERS = [
    "inference_requests_total",
    "nv_inference_request_success_total",
    "nv_inference_request_duration_us_total",
    "ts_inference_requests_total",
]
PRESET_HISTOGRAMS = ["inference_duration_seconds", "vllm:e2e_request_latency_seconds"]

# Values that break naive code: NaN, infinities, negatives, huge floats and integers.
sample_values = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 2.0**360, 5e-324]),
)
# Hypothesis's regex strategies are slow per case; small alphabets keep 1,000 cases cheap.
label_names = st.sampled_from(["outcome", "model", "code", "a", "b_2", "status"])
label_values = st.text(max_size=5)
label_dicts = st.dictionaries(label_names, label_values, max_size=2)


@dataclass(frozen=True)
class Family:
    """One generated metric family: its name, type and series (labels, value)."""

    name: str
    type: str
    series: tuple[tuple[tuple[tuple[str, str], ...], float | int], ...]
    # Bucket upper bounds of a histogram, +Inf last.
    bounds: tuple[float, ...] = ()


def format_value(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{escape(value)}"' for name, value in labels) + "}"


def sample_lines(family: Family) -> Iterator[tuple[str, tuple[tuple[str, str], ...], float | int]]:
    """Yield (sample name, sorted labels, value) of every sample the family writes."""
    for labels, value in family.series:
        if family.type != "histogram":
            yield family.name, label_set(dict(labels)), value
            continue
        for bound in family.bounds:
            bucket_labels = label_set({**dict(labels), "le": format_value(bound)})
            yield f"{family.name}_bucket", bucket_labels, value
        yield f"{family.name}_sum", label_set(dict(labels)), value
        yield f"{family.name}_count", label_set(dict(labels)), value


def render(families: list[Family]) -> list[str]:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} generated")
        lines.append(f"# TYPE {family.name} {family.type}")
        for name, labels, value in sample_lines(family):
            lines.append(f"{name}{format_labels(labels)} {format_value(value)}")
    return lines


@st.composite
def families(draw: st.DrawFn) -> list[Family]:
    """Draw families with unique names and unique series, some of them ones the presets read."""
    names = draw(
        st.lists(
            st.one_of(
                st.sampled_from([*PRESET_GAUGES, *PRESET_COUNTERS, *PRESET_HISTOGRAMS]),
                st.text(alphabet="abcxyz", min_size=1, max_size=6).map(lambda name: f"g_{name}"),
            ),
            unique=True,
            max_size=3,
        )
    )
    drawn = []
    for name in names:
        if name in PRESET_COUNTERS:
            kind = "counter"
        elif name in PRESET_HISTOGRAMS:
            kind = "histogram"
        else:
            kind = draw(st.sampled_from(["gauge", "untyped"]))
        label_sets = draw(st.lists(label_dicts, unique_by=label_set, max_size=2))
        series = tuple((label_set(labels), draw(sample_values)) for labels in label_sets)
        bounds: tuple[float, ...] = ()
        if kind == "histogram":
            finite = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), unique=True, max_size=3))
            bounds = (*sorted(finite), math.inf)
        drawn.append(Family(name, kind, series, bounds))
    return drawn


def expected_exposition(
    drawn: list[Family],
) -> tuple[dict[str, dict[object, float]], dict[str, dict[object, float]]]:
    samples: dict[str, dict[object, float]] = {}
    counters: dict[str, dict[object, float]] = {}
    for family in drawn:
        for name, labels, value in sample_lines(family):
            if family.type == "counter":
                counters.setdefault(name.removesuffix("_total"), {})[labels] = float(value)
            else:
                samples.setdefault(name, {})[labels] = float(value)
    return samples, counters


def same_value(parsed: float, expected: float) -> bool:
    if math.isnan(expected):
        return math.isnan(parsed)
    return parsed == expected


def assert_windows_publishable(exposition: Exposition) -> None:
    """Build a window from ``exposition`` under every preset; nothing may crash or reach CloudWatch unfit."""
    for preset in PRESETS.values():
        try:
            reading = preset.read(exposition)
        except InputError as exc:
            assert "invalid le label" in str(exc)
            continue
        for previous, restarted in ((reading, True), (empty_reading(reading), False)):
            deltas = compute_deltas(preset, previous, reading, restarted)
            window = build_window(
                WINDOW_START,
                10,
                worker_up=True,
                deltas=deltas,
                current=reading,
                memory_rss=None,
                memory_per_request=None,
            )
            datums, _ = enforce_limits(format_window(window, DIMENSIONS), NOW)
            for datum in datums:
                for value in (datum.value, *datum.values, *datum.counts):
                    if value is not None:
                        assert math.isfinite(value)
                        assert abs(value) <= MAX_ABS_VALUE
            rollup = merge_window(None, window)
            assert 0 <= rollup.request_count <= SQLITE_MAX_INTEGER
            assert 0 <= rollup.error_count <= SQLITE_MAX_INTEGER


def empty_reading(reading: WorkerReading) -> WorkerReading:
    return WorkerReading(
        counters={role: {} for role in reading.counters},
        histograms={},
        queue_depth=None,
        in_flight=None,
        process_start=None,
    )


def assert_names_line(message: str, text: str) -> None:
    """Check that a parse error quotes the line it reports, and that the line is in ``text``."""
    found = LINE_ERROR.search(message)
    assert found is not None, message
    number = int(found.group(1))
    lines = io.StringIO(text).readlines()
    assert 1 <= number <= len(lines)
    line = lines[number - 1].rstrip("\n")
    quoted = line[:LINE_QUOTE_LIMIT] + "..." if len(line) > LINE_QUOTE_LIMIT else line
    assert f"at line {number} {quoted!r}:" in message


# Characters and words that break the text format's syntax.
INSERTIONS = [*'{}",= \n#\\e+-.', "NaN", "\x00"]


@st.composite
def mutated_expositions(draw: st.DrawFn) -> str:
    """Draw a valid exposition, then delete, insert, replace or repeat a few characters or lines."""
    lines = render(draw(families()))
    text = "\n".join(lines) + "\n"
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "repeat_line", "truncate"]))
        if action == "delete":
            text = text[:position] + text[position + 1 :]
        elif action == "insert":
            text = (
                text[:position]
                + draw(st.sampled_from(INSERTIONS))
                + text[position:]
            )
        elif action == "replace":
            text = text[:position] + draw(st.characters()) + text[position + 1 :]
        elif action == "repeat_line" and lines:
            text += draw(st.sampled_from(lines)) + "\n"
        else:
            text = text[:position]
    return text


bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(lambda text: text.encode("utf-8")),
    mutated_expositions().map(lambda text: text.encode("utf-8")),
    families().map(lambda drawn: ("\n".join(render(drawn)) + "\n").encode("utf-8")),
)
statuses = st.sampled_from([200, 200, 200, 200, 200, 200, 201, 301, 404, 429, 500, 503])


@pytest.fixture
def exposition_server() -> Iterator[ExpositionServer]:
    server = ExpositionServer()
    server.start()
    yield server
    server.stop()


def test_scrape_of_generated_bodies(
    request: pytest.FixtureRequest, fault_ledger: FaultLedger, exposition_server: ExpositionServer
) -> None:
    scraper = MetricsScraper(timeout=10.0, max_bytes=MAX_BYTES)
    url = exposition_server.url
    tally = Tally()

    @PROPERTY_SETTINGS
    @given(body=bodies, status=statuses)
    def check(body: bytes, status: int) -> None:
        with tally.case():
            exposition_server.body = body
            exposition_server.status = status

            if status != 200:
                with pytest.raises(TransientServiceError) as failed:
                    scraper.fetch(url)
                assert f"HTTP status {status}" in str(failed.value)
                return
            if len(body) > MAX_BYTES:
                with pytest.raises(InputError) as rejected:
                    scraper.fetch(url)
                assert f"{len(body)} bytes at {url}" in str(rejected.value)
                return
            try:
                expected_text = body.decode("utf-8")
            except UnicodeDecodeError:
                with pytest.raises(InputError) as rejected:
                    scraper.fetch(url)
                assert f"/metrics body at {url} is not UTF-8" in str(rejected.value)
                return

            text = scraper.fetch(url)

            assert text == expected_text
            try:
                exposition = parse_exposition(text)
            except InputError as exc:
                if "appears more than once" not in str(exc):
                    assert_names_line(str(exc), text)
                return
            assert_windows_publishable(exposition)

    try:
        run_property(request, fault_ledger, "Prometheus scrape", check, tally)
    finally:
        scraper.close()


def test_exposition_values_parse_exactly(request: pytest.FixtureRequest, fault_ledger: FaultLedger) -> None:
    tally = Tally()

    @PROPERTY_SETTINGS
    @given(drawn=families(), repeat=st.integers(min_value=-20, max_value=20))
    def check(drawn: list[Family], repeat: int) -> None:
        with tally.case():
            lines = render(drawn)
            samples = [
                (name, labels, value) for family in drawn for name, labels, value in sample_lines(family)
            ]
            if repeat >= 0 and samples:
                # About half the cases write one series twice: the text format leaves its value undefined.
                name, labels, value = samples[repeat % len(samples)]
                lines.append(f"{name}{format_labels(labels)} {format_value(value)}")
                with pytest.raises(InputError) as rejected:
                    parse_exposition("\n".join(lines) + "\n")
                assert f"series {series_text(name, labels)} appears more than once" in str(rejected.value)
                return

            exposition = parse_exposition("\n".join(lines) + "\n")

            expected_samples, expected_counters = expected_exposition(drawn)
            for parsed, expected in (
                (exposition.samples, expected_samples),
                (exposition.counters, expected_counters),
            ):
                assert set(parsed) == set(expected)
                for name, series in expected.items():
                    assert set(parsed[name]) == set(series)
                    for labels, value in series.items():
                        assert same_value(parsed[name][labels], value), (name, labels)
            assert_windows_publishable(exposition)

    run_property(request, fault_ledger, "Prometheus exposition values", check, tally)


counter_values = st.integers(min_value=0, max_value=2**40)


def counter_text(series: dict[str, int]) -> str:
    lines = ["# TYPE inference_requests_total counter"]
    for outcome, value in series.items():
        lines.append(f'inference_requests_total{{outcome="{outcome}"}} {value}')
    return "\n".join(lines) + "\n"


def test_counter_resets_count_from_zero(request: pytest.FixtureRequest, fault_ledger: FaultLedger) -> None:
    tally = Tally()
    outcomes = st.sampled_from(["ok", "error", "queue_full", "timeout"])
    scrapes = st.lists(st.dictionaries(outcomes, counter_values, max_size=4), min_size=2, max_size=6)

    @PROPERTY_SETTINGS
    @given(sequence=scrapes, restarts=st.lists(st.booleans(), min_size=6, max_size=6))
    def check(sequence: list[dict[str, int]], restarts: list[bool]) -> None:
        with tally.case():
            previous = REFERENCE.read(parse_exposition(counter_text(sequence[0])))
            for position, (before, after) in enumerate(pairwise(sequence)):
                restarted = restarts[position]
                current = REFERENCE.read(parse_exposition(counter_text(after)))

                deltas = compute_deltas(REFERENCE, previous, current, restarted)

                expected_requests = 0
                expected_errors = 0
                for outcome, value in after.items():
                    old = before.get(outcome)
                    grew = value if old is None or restarted or value < old else value - old
                    expected_requests += grew
                    if outcome in ("error", "queue_full"):
                        expected_errors += grew
                assert deltas.request_count == expected_requests
                assert deltas.error_count == expected_errors
                previous = current

    run_property(request, fault_ledger, "Prometheus counter resets", check, tally)


def test_series_text_quotes_label_values() -> None:
    assert series_text("x_bucket", (("le", "0.5"),)) == 'x_bucket{le="0.5"}'
    assert series_text("x", ()) == "x"
    assert json.loads(series_text("x", (("a", 'q"\n'),))[4:-1]) == 'q"\n'
