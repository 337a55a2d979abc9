"""Value types shared by the settings sections: durations and byte sizes."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")

_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
}
_BYTE_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)")
# Sizes reach cgroup memory limits, which the kernel reads as a signed 64-bit number.
MAX_BYTE_SIZE = 2**63 - 1


def _to_timedelta(seconds: float | int, value: object) -> timedelta:
    """Return ``seconds`` as a timedelta; raise ValueError naming ``value`` when it is out of range."""
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError(f"invalid duration {value!r}: expected a finite number of seconds")
    try:
        return timedelta(seconds=seconds)
    except OverflowError as exc:
        raise ValueError(
            f"invalid duration {value!r}: longer than the maximum of {timedelta.max.days} days"
        ) from exc


def parse_duration(value: object) -> timedelta:
    """Parse seconds (a number) or a duration string such as ``10s``, ``5m``, ``4h`` or ``1h30m``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or a duration like '10s' or '4h', got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        return _to_timedelta(value, value)
    if not isinstance(value, str):
        raise ValueError(f"expected seconds or a duration like '10s' or '4h', got {value!r}")

    text = value.strip().lower().replace(" ", "")
    if _SECONDS.fullmatch(text):
        return _to_timedelta(float(text), value)
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(
            f"invalid duration {value!r}: use seconds or a duration like '10s', '5m', '4h' or '1h30m'"
        )

    seconds = 0.0
    for amount, unit in _DURATION_PART.findall(text):
        seconds += float(amount) * _DURATION_UNITS[unit]
    return _to_timedelta(seconds, value)


def format_duration(value: timedelta) -> str:
    """Format a duration the way the config file accepts it: ``90s`` becomes ``1m30s``."""
    total = value.total_seconds()
    if total != int(total):
        return f"{total:g}s"
    remaining = int(total)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_byte_size(value: object) -> int:
    """Parse bytes (a number) or a size string such as ``512MiB``, ``2G`` or ``300 MB``."""
    if isinstance(value, bool):
        raise ValueError(f"expected bytes or a size like '512MiB', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative, got {value!r}")
        return _within_byte_limit(value, value)
    if not isinstance(value, str):
        raise ValueError(f"expected bytes or a size like '512MiB', got {value!r}")

    match = _BYTE_SIZE.fullmatch(value.strip().lower())
    if match is None or match.group(2) not in _BYTE_UNITS:
        raise ValueError(f"invalid size {value!r}: use bytes or a size like '512MiB', '2GiB' or '300MB'")
    # Decimal keeps '1.5KiB' and sizes beyond 2^53 exact; a fraction of a byte is dropped.
    size = int(Decimal(match.group(1)) * _BYTE_UNITS[match.group(2)])
    return _within_byte_limit(size, value)


def _within_byte_limit(size: int, value: object) -> int:
    if size > MAX_BYTE_SIZE:
        raise ValueError(f"invalid size {value!r}: larger than the maximum of {MAX_BYTE_SIZE} bytes")
    return size


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A ``timedelta`` that config files and environment variables write as ``10s`` or ``4h``."""

ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
"""A size in bytes that config files write as ``512MiB`` or ``2GB``."""
