"""Prometheus text exposition, parsed into samples grouped by sample name.

Parsing uses ``prometheus_client.parser``. Samples are kept by their own
name (``x_total``, ``x_bucket``, ``x_sum``), not by family, because the
parser renames counter families (``x_total`` becomes family ``x``) and the
presets select samples as the worker writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from watchdog.errors import InputError

# Sorted (label, value) pairs that identify one series of a sample name.
LabelSet = tuple[tuple[str, str], ...]

# Longest part of an offending line quoted in a parse error.
_QUOTE_LIMIT = 120


@dataclass(frozen=True)
class Exposition:
    """The samples of one scrape: sample name -> label set -> value."""

    samples: Mapping[str, Mapping[LabelSet, float]] = field(default_factory=dict)

    def series(self, name: str) -> Mapping[LabelSet, float]:
        """Return every series of sample ``name``, empty when the worker does not expose it."""
        return self.samples.get(name, {})

    def value(self, name: str) -> float | None:
        """Return the sum of every series of ``name``, or None when it has none."""
        series = self.samples.get(name)
        if not series:
            return None
        return sum(series.values())


def label_set(labels: Mapping[str, str]) -> LabelSet:
    """Return ``labels`` as a sorted, hashable tuple."""
    return tuple(sorted(labels.items()))


def parse_exposition(text: str, wanted: Iterable[str] | None = None) -> Exposition:
    """Parse Prometheus text exposition; raise ``InputError`` naming the problem.

    ``wanted`` limits the result to those sample names, which keeps the
    snapshot small; parsing still validates the whole text.
    """
    keep = set(wanted) if wanted is not None else None
    samples: dict[str, dict[LabelSet, float]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if keep is not None and sample.name not in keep:
                    continue
                samples.setdefault(sample.name, {})[label_set(sample.labels)] = float(sample.value)
    except (ValueError, IndexError, KeyError) as exc:
        detail = str(exc)
        if len(detail) > _QUOTE_LIMIT:
            detail = detail[:_QUOTE_LIMIT] + "..."
        raise InputError(f"invalid Prometheus exposition: {detail}") from exc
    return Exposition(samples)
