"""Prometheus text exposition, parsed into samples grouped by sample name.

Parsing uses ``prometheus_client.parser``. Samples are kept by their own
name (``x_bucket``, ``x_sum``), not by family. Counters are the exception:
the parser gives every sample of a counter family the ``_total`` suffix,
whether the server wrote it (``inference_requests_total``) or not (Triton's
``nv_inference_request_success``). So counter samples are kept under their
name without the suffix, and a lookup finds them by either spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from watchdog.errors import InputError

# Sorted (label, value) pairs that identify one series of a sample name.
LabelSet = tuple[tuple[str, str], ...]

# Maximum length of the parser's message quoted in an error.
_QUOTE_LIMIT = 120


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


def parse_exposition(text: str, wanted: Iterable[str] | None = None) -> Exposition:
    """Parse Prometheus text exposition; raise ``InputError`` naming the problem.

    ``wanted`` limits the result to those sample names, which keeps the
    snapshot small; parsing still validates the whole text.
    """
    keep = None
    if wanted is not None:
        keep = {name.removesuffix("_total") for name in wanted} | set(wanted)
    samples: dict[str, dict[LabelSet, float]] = {}
    counters: dict[str, dict[LabelSet, float]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                name = sample.name
                target = samples
                if family.type == "counter" and name.endswith("_total"):
                    name = name.removesuffix("_total")
                    target = counters
                if keep is not None and name not in keep:
                    continue
                target.setdefault(name, {})[label_set(sample.labels)] = float(sample.value)
    except (ValueError, IndexError, KeyError) as exc:
        detail = str(exc)
        if len(detail) > _QUOTE_LIMIT:
            detail = detail[:_QUOTE_LIMIT] + "..."
        raise InputError(f"invalid Prometheus exposition: {detail}") from exc
    return Exposition(samples, counters)
