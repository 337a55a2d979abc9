"""Prometheus text exposition, parsed into samples grouped by sample name.

Parsing uses ``prometheus_client.parser``. Samples are kept by their own
name (``x_bucket``, ``x_sum``), not by family. Counters are the exception:
the parser gives every sample of a counter family the ``_total`` suffix,
whether the server wrote it (``inference_requests_total``) or not (Triton's
``nv_inference_request_success``). So counter samples are kept under their
name without the suffix, and a lookup finds them by either spelling.

The text format allows each combination of sample name and labels once; a
repeated series leaves its value undefined, so the whole scrape is rejected.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_fd_to_metric_families

from watchdog.errors import InputError

# Sorted (label, value) pairs that identify one series of a sample name.
LabelSet = tuple[tuple[str, str], ...]

# Maximum lengths of the failing line and of the parser's message quoted in an error.
LINE_QUOTE_LIMIT = 60
_DETAIL_LIMIT = 70


@dataclass(frozen=True)
class Exposition:
    """The samples of one scrape: sample name -> label set -> value."""

    samples: Mapping[str, Mapping[LabelSet, float]] = field(default_factory=dict)
    # Counter samples by name without the "_total" suffix.
    counters: Mapping[str, Mapping[LabelSet, float]] = field(default_factory=dict)

    def series(self, name: str) -> Mapping[LabelSet, float]:
        """Return every series of sample ``name``, empty when the worker does not expose it.

        A counter is found with or without its ``_total`` suffix.
        """
        found = self.samples.get(name)
        if found is not None:
            return found
        return self.counters.get(name.removesuffix("_total"), {})

    def value(self, name: str) -> float | None:
        """Return the sum of every series of ``name``, or None when it has none."""
        series = self.series(name)
        if not series:
            return None
        return sum(series.values())


def label_set(labels: Mapping[str, str]) -> LabelSet:
    """Return ``labels`` as a sorted, hashable tuple."""
    return tuple(sorted(labels.items()))


class _LineReader(io.StringIO):
    """A text read line by line, remembering the number and text of the last line read."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.number = 0
        self.line = ""

    # typeshed types _IOBase.__next__ as bytes; StringIO's lines are str.
    def __next__(self) -> str:  # type: ignore[override]
        line = super().__next__()
        self.number += 1
        self.line = line
        return line


def series_text(name: str, labels: LabelSet) -> str:
    """Return a series as the text format writes it, such as ``x_bucket{le="0.5"}``."""
    if not labels:
        return name
    pairs = ",".join(f"{label}={json.dumps(value)}" for label, value in labels)
    return f"{name}{{{pairs}}}"


def _quote(text: str, limit: int) -> str:
    if len(text) > limit:
        return text[:limit] + "..."
    return text


def parse_exposition(text: str, wanted: Iterable[str] | None = None) -> Exposition:
    """Parse Prometheus text exposition; raise ``InputError`` naming the line that failed.

    ``wanted`` limits the result to those sample names, which keeps the
    snapshot small; parsing still validates the whole text.
    """
    keep = None
    if wanted is not None:
        keep = {name.removesuffix("_total") for name in wanted} | set(wanted)
    samples: dict[str, dict[LabelSet, float]] = {}
    counters: dict[str, dict[LabelSet, float]] = {}
    seen: set[tuple[str, LabelSet]] = set()
    # prometheus_client parses each line as it reads it, so the reader's last
    # line is the one a parse error belongs to.
    lines = _LineReader(text)
    try:
        for family in text_fd_to_metric_families(lines):
            for sample in family.samples:
                labels = label_set(sample.labels)
                if (sample.name, labels) in seen:
                    raise InputError(
                        f"invalid Prometheus exposition: series {series_text(sample.name, labels)} "
                        "appears more than once, but each series must be unique"
                    )
                seen.add((sample.name, labels))

                name = sample.name
                target = samples
                if family.type == "counter" and name.endswith("_total"):
                    name = name.removesuffix("_total")
                    target = counters
                if keep is not None and name not in keep:
                    continue
                target.setdefault(name, {})[labels] = float(sample.value)
    # OverflowError: an integer value or timestamp too large for a float.
    except (ValueError, IndexError, KeyError, OverflowError) as exc:
        detail = _quote(str(exc), _DETAIL_LIMIT) or type(exc).__name__
        line = _quote(lines.line.rstrip("\n"), LINE_QUOTE_LIMIT)
        raise InputError(
            f"invalid Prometheus exposition at line {lines.number} {line!r}: {detail}"
        ) from exc
    return Exposition(samples, counters)
