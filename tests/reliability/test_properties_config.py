"""Generated durations, byte sizes, TOML files and environment variables through the config loader.

Valid input must load to exactly the generated values. Anything else must
raise the documented error, naming the field and the value with secrets
masked: ``ValueError`` from the value types, which pydantic reports, and
``ConfigError`` from ``load_settings``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.conftest import FaultLedger
from tests.reliability.property_runs import PROPERTY_SETTINGS, Tally, run_property
from watchdog.config import load_settings
from watchdog.config.model import ENV_PREFIX
from watchdog.config.types import MAX_BYTE_SIZE, format_duration, parse_byte_size, parse_duration
from watchdog.errors import ConfigError

DURATION_UNITS = {"ms": Decimal("0.001"), "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "G": 1000**3,
    "KiB": 1024,
    "mib": 1024**2,
    "GiB": 1024**3,
}

# Anything a config file, an environment variable or a caller could pass.
any_value = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789.smhdwkKMGiBb -+e", max_size=10),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def duration_texts(draw: st.DrawFn) -> tuple[str, Decimal]:
    """Draw a duration such as '1h30m' or '500ms' and its exact length in seconds."""
    parts = draw(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=10**5), st.sampled_from(sorted(DURATION_UNITS))),
            min_size=1,
            max_size=3,
        )
    )
    text = "".join(f"{amount}{unit}" for amount, unit in parts)
    seconds = sum((amount * Decimal(DURATION_UNITS[unit]) for amount, unit in parts), Decimal(0))
    return text, seconds


def test_durations_parse_exactly(request: pytest.FixtureRequest, fault_ledger: FaultLedger) -> None:
    tally = Tally()

    @PROPERTY_SETTINGS
    @given(case=st.one_of(duration_texts(), any_value.map(lambda value: (value, None))))
    def check(case: tuple[object, Decimal | None]) -> None:
        with tally.case():
            value, seconds = case
            if seconds is not None:
                parsed = parse_duration(value)

                assert parsed == timedelta(seconds=float(seconds))
                if parsed.microseconds == 0:
                    assert parse_duration(format_duration(parsed)) == parsed
                return

            try:
                parsed = parse_duration(value)
            except ValueError as exc:
                assert repr(value) in str(exc)
                return
            assert timedelta(0) <= parsed <= timedelta.max

    run_property(request, fault_ledger, "config durations", check, tally)


def test_byte_sizes_parse_exactly(request: pytest.FixtureRequest, fault_ledger: FaultLedger) -> None:
    tally = Tally()
    amounts = st.one_of(
        st.integers(min_value=0, max_value=10**21).map(str),
        st.decimals(min_value=0, max_value=10**6, places=3).map(str),
    )
    sizes = st.tuples(amounts, st.sampled_from(sorted(BYTE_UNITS)), st.sampled_from(["", " "]))

    @PROPERTY_SETTINGS
    @given(case=st.one_of(sizes.map(lambda size: (size, True)), any_value.map(lambda value: (value, False))))
    def check(case: tuple[Any, bool]) -> None:
        with tally.case():
            value, generated = case
            if generated:
                amount, unit, space = value
                text = f"{amount}{space}{unit}"
                expected = int(Decimal(amount) * BYTE_UNITS[unit])
                if expected > MAX_BYTE_SIZE:
                    with pytest.raises(ValueError) as rejected:
                        parse_byte_size(text)
                    assert repr(text) in str(rejected.value)
                    return

                assert parse_byte_size(text) == expected
                return

            try:
                size = parse_byte_size(value)
            except ValueError as exc:
                assert repr(value) in str(exc)
                return
            assert 0 <= size <= MAX_BYTE_SIZE

    run_property(request, fault_ledger, "config byte sizes", check, tally)


# (path, valid values, invalid values); a valid value is (written, expected).
FIELDS: dict[tuple[str, ...], tuple[st.SearchStrategy[tuple[Any, Any]], st.SearchStrategy[Any]]] = {
    ("daemon", "shutdown_timeout"): (
        st.integers(min_value=0, max_value=10**6).flatmap(
            lambda n: st.sampled_from(
                [(n, timedelta(seconds=n)), (f"{n}s", timedelta(seconds=n)), (f"{n}m", timedelta(minutes=n))]
            )
        ),
        st.one_of(
            st.sampled_from(["4 hours", "-5s", "inf", "1e300", "99999999999999d", ""]),
            st.floats(allow_nan=True).filter(lambda x: not 0 <= x <= 8e13),
        ),
    ),
    ("aws", "max_attempts"): (
        st.integers(min_value=1, max_value=20).map(lambda n: (n, n)),
        st.one_of(st.integers(max_value=0), st.integers(min_value=21), st.sampled_from(["abc", "1.5", 1.5])),
    ),
    ("metrics", "scrape_max_bytes"): (
        st.integers(min_value=1, max_value=4096).flatmap(
            lambda n: st.sampled_from([(n, n), (f"{n}KiB", n * 1024), (f"{n} MB", n * 1000**2)])
        ),
        st.sampled_from([0, -1, "12 parsecs", "1e3", "9" * 30, "1.5.5", 2**63]),
    ),
    ("log_level",): (
        st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR"]).map(lambda level: (level, level)),
        st.sampled_from(["TRACE", "info", "", "FATAL"]),
    ),
    ("service_name",): (
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10
        ).map(lambda name: (name, name)),
        # Not text in a file; an environment variable would carry them as text.
        st.sampled_from([1.5, ["a"], {"a": 1}]),
    ),
    ("slack", "bot_token"): (
        st.text(alphabet="xob-0123456789abcdef", min_size=1, max_size=12).map(lambda token: (token, token)),
        st.sampled_from([["xoxb-leak"], {"token": "xoxb-leak"}, 12345]),
    ),
}


@st.composite
def config_cases(draw: st.DrawFn) -> tuple[dict[tuple[str, ...], tuple[str, Any, Any, bool]], str]:
    """Draw field -> (source, written, expected, valid) and a twist that breaks the whole input, or none."""
    chosen = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, min_size=1, max_size=4))
    fields = {}
    for path in chosen:
        valid_values, invalid_values = FIELDS[path]
        valid = draw(st.integers(min_value=0, max_value=3)) > 0
        if valid:
            written, expected = draw(valid_values)
        else:
            written, expected = draw(invalid_values), None
        # Environment variables carry text. A valid number keeps its meaning as
        # text; an invalid one may not ("12345" is a valid token), so it stays in the file.
        env_ok = isinstance(written, str) or (valid and isinstance(written, int))
        source = draw(st.sampled_from(["file", "env"])) if env_ok else "file"
        if source == "env":
            written = str(written)
        fields[path] = (source, written, expected, valid)
    twist = draw(st.sampled_from(["none"] * 6 + ["unknown_key", "bad_toml", "bad_bytes", "section_not_json"]))
    return fields, twist


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    yield


def lookup(settings: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        settings = getattr(settings, part)
    if hasattr(settings, "get_secret_value"):
        return settings.get_secret_value()
    return settings


Fields = dict[tuple[str, ...], tuple[str, Any, Any, bool]]


def write_inputs(config: Path, fields: Fields, twist: str) -> dict[str, str]:
    """Write the file-sourced fields to ``config`` and return the environment variables to set."""
    document: dict[str, Any] = {}
    environment = {}
    for path, (source, written, _, _) in fields.items():
        if source == "env":
            environment[ENV_PREFIX + "__".join(part.upper() for part in path)] = written
            continue
        table = document
        for part in path[:-1]:
            table = table.setdefault(part, {})
        table[path[-1]] = written
    if twist == "unknown_key":
        document.setdefault("daemon", {})["shutdown_timeut"] = 5
    elif twist == "section_not_json":
        # A whole section in one variable must be a JSON object.
        environment[ENV_PREFIX + "DAEMON"] = "{shutdown_timeout = 5}"
    content = tomli_w.dumps(document).encode("utf-8")
    if twist == "bad_toml":
        content += b"\n[daemon\n"
    elif twist == "bad_bytes":
        content += b"\n# caf\xe9\n"
    config.write_bytes(content)
    return environment


def assert_rejection_names_values(message: str, fields: Fields, twist: str) -> None:
    assert "xoxb-leak" not in message
    if twist == "bad_toml":
        assert "invalid TOML" in message
        return
    if twist == "bad_bytes":
        assert "is not UTF-8" in message
        return
    if twist == "section_not_json":
        assert 'field "daemon"' in message
        return
    if twist == "unknown_key":
        assert "invalid daemon.shutdown_timeut 5: unknown setting" in message
    for path, (_, written, _, valid) in fields.items():
        if valid:
            continue
        shown = repr(written)
        if path == ("slack", "bot_token"):
            shown = "'**********'"
        elif isinstance(written, dict):
            shown = "(a table)"
        assert f"invalid {'.'.join(path)} {shown}:" in message, message
    assert twist != "none" or not all(valid for *_, valid in fields.values())


def test_config_sources_load_exactly(
    request: pytest.FixtureRequest, fault_ledger: FaultLedger, tmp_path: Path, clean_environment: None
) -> None:
    tally = Tally()
    config = tmp_path / "config.toml"

    @PROPERTY_SETTINGS
    @given(case=config_cases())
    def check(case: tuple[Fields, str]) -> None:
        with tally.case():
            fields, twist = case
            environment = write_inputs(config, fields, twist)
            os.environ.update(environment)
            try:
                loaded = load_settings(config, environ={})
            except ConfigError as exc:
                assert str(config) in str(exc) or "environment" in str(exc)
                assert_rejection_names_values(str(exc), fields, twist)
                return
            finally:
                for name in environment:
                    del os.environ[name]

            assert twist == "none"
            for path, (_, _, expected, valid) in fields.items():
                assert valid, path
                assert lookup(loaded.settings, path) == expected, path

    run_property(request, fault_ledger, "config loader", check, tally)
