"""The per-target message budget: within one window a target gets at most ``budget`` messages,
and what comes beyond is folded into one digest message with counts, sent when the window ends.

Pure functions of values. The other half of the flood guard, at most one
delivery per ``min_interval`` per target, is enforced when the outbox is
claimed (``watchdog.alerts.outbox``), because it must hold across processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

# Summaries of folded alerts kept to show in the digest, besides the counts.
DIGEST_SAMPLES = 10


@dataclass(frozen=True)
class FoldedAlert:
    """One alert announcement that the budget folded into the digest."""

    rule: str
    severity: str
    state: str
    summary: str


@dataclass(frozen=True)
class Digest:
    """The announcements a closed window folded, for one digest message."""

    target: str
    window_start: datetime
    window_end: datetime
    sent: int
    total: int
    # (rule, severity, state) -> number of folded announcements
    counts: Mapping[tuple[str, str, str], int]
    samples: tuple[str, ...]


@dataclass(frozen=True)
class TargetBudget:
    """The budget state of one target in its current window."""

    target: str
    window_start: datetime | None = None
    window_sent: int = 0
    folded_total: int = 0
    folded_counts: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    samples: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the folded part as JSON for the ``alert_targets.digest`` column."""
        return {
            "total": self.folded_total,
            "counts": [[*key, count] for key, count in sorted(self.folded_counts.items())],
            "samples": list(self.samples),
        }

    @classmethod
    def from_row(
        cls, target: str, window_start: datetime | None, window_sent: int, digest: Mapping[str, Any]
    ) -> TargetBudget:
        """Rebuild the budget from an ``alert_targets`` row."""
        counts = {
            (str(rule), str(severity), str(state)): int(count)
            for rule, severity, state, count in digest.get("counts", [])
        }
        return cls(
            target=target,
            window_start=window_start,
            window_sent=window_sent,
            folded_total=int(digest.get("total", 0)),
            folded_counts=counts,
            samples=tuple(str(sample) for sample in digest.get("samples", [])),
        )


def close_window(
    budget: TargetBudget, now: datetime, window: timedelta
) -> tuple[TargetBudget, Digest | None]:
    """End the window if it is over; return the fresh budget and the digest, if anything folded."""
    if budget.window_start is None or now < budget.window_start + window:
        return budget, None
    digest = None
    if budget.folded_total:
        digest = Digest(
            target=budget.target,
            window_start=budget.window_start,
            window_end=budget.window_start + window,
            sent=budget.window_sent,
            total=budget.folded_total,
            counts=dict(budget.folded_counts),
            samples=budget.samples,
        )
    return TargetBudget(budget.target), digest


def admit(
    budget: TargetBudget, now: datetime, window: timedelta, limit: int
) -> tuple[TargetBudget, bool]:
    """Count one message against the budget; return the new budget and whether it may be sent.

    Call ``close_window`` first, so that an expired window's digest is not lost.
    """
    if budget.window_start is None or now >= budget.window_start + window:
        budget = TargetBudget(budget.target, window_start=now)
    if budget.window_sent < limit:
        return replace(budget, window_sent=budget.window_sent + 1), True
    return budget, False


def fold(budget: TargetBudget, alerts: Iterable[FoldedAlert]) -> TargetBudget:
    """Add announcements that were not sent to the window's digest."""
    counts = dict(budget.folded_counts)
    samples = list(budget.samples)
    total = budget.folded_total
    for alert in alerts:
        key = (alert.rule, alert.severity, alert.state)
        counts[key] = counts.get(key, 0) + 1
        total += 1
        if len(samples) < DIGEST_SAMPLES:
            samples.append(alert.summary)
    return replace(budget, folded_counts=counts, folded_total=total, samples=tuple(samples))
