"""Silences: label matchers that keep matching alerts from being announced until they end.

A silence matches an alert when every matcher matches. Matchers see the
alert's labels plus ``rule``, ``severity`` and ``fingerprint``, so
``fingerprint=...`` silences one alert (an acknowledgement) and ``rule=...``
a whole rule. Operators: ``=`` and ``!=`` compare exactly, ``=~`` and ``!~``
match a regular expression against the whole value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from watchdog.errors import InputError
from watchdog.storage.models import Silence

OPERATORS = ("=~", "!~", "!=", "=")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Matcher:
    """One ``label OP value`` condition."""

    label: str
    operator: str
    value: str

    def __post_init__(self) -> None:
        if self.operator in ("=~", "!~"):
            # Compiled once here so that a bad pattern fails when the silence is made.
            re.compile(self.value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether ``labels`` satisfy this matcher; a missing label counts as empty."""
        actual = labels.get(self.label, "")
        if self.operator == "=":
            return actual == self.value
        if self.operator == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.operator == "=~" else not found

    def __str__(self) -> str:
        return f"{self.label}{self.operator}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """Parse ``label=value`` (or ``!=``, ``=~``, ``!~``); raise ``InputError`` naming the input."""
    for operator in OPERATORS:
        label, found, value = text.partition(operator)
        if not found:
            continue
        label = label.strip()
        if not _LABEL_NAME.match(label):
            break
        try:
            return Matcher(label, operator, value.strip())
        except re.error as exc:
            raise InputError(
                f"invalid matcher {text!r}: the regular expression does not compile ({exc})"
            ) from exc
    raise InputError(
        f"invalid matcher {text!r}: expected LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or "
        "LABEL!~REGEX, such as rule=latency_p99"
    )


@dataclass(frozen=True)
class ActiveSilence:
    """A silence in force, as the engine checks it."""

    id: str
    matchers: tuple[Matcher, ...]
    ends_at: datetime

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether every matcher matches ``labels``."""
        return all(matcher.matches(labels) for matcher in self.matchers)


def alert_match_labels(
    rule: str, severity: str, fingerprint: str, labels: Mapping[str, str]
) -> dict[str, str]:
    """Return the labels that matchers see for one alert."""
    return {**labels, "rule": rule, "severity": severity, "fingerprint": fingerprint}


def find_silence(
    silences: Sequence[ActiveSilence], labels: Mapping[str, str]
) -> ActiveSilence | None:
    """Return the first silence that matches ``labels``, or None."""
    for silence in silences:
        if silence.matches(labels):
            return silence
    return None


# -- store operations -----------------------------------------------------


def create_silence(
    session: Session,
    *,
    matchers: Sequence[Matcher],
    duration: timedelta,
    reason: str,
    created_by: str,
    now: datetime,
) -> Silence:
    """Insert a silence that starts now and lasts ``duration``."""
    if not matchers:
        raise InputError("a silence needs at least one --match, such as --match rule=latency_p99")
    if duration <= timedelta(0):
        raise InputError(f"invalid silence duration {duration}: use a positive duration like '2h'")
    silence = Silence(
        id=secrets.token_hex(4),
        matchers=[[m.label, m.operator, m.value] for m in matchers],
        reason=reason,
        created_by=created_by,
        created_at=now,
        ends_at=now + duration,
        expired_at=None,
        suppressed=0,
    )
    session.add(silence)
    session.flush()
    return silence


def expire_silence(session: Session, silence_id: str, now: datetime) -> Silence:
    """End a silence now; raise ``InputError`` when no silence has that id."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise InputError(f"silence {silence_id!r} not found: list them with 'alerts list'")
    if silence.expired_at is None and silence.ends_at > now:
        silence.expired_at = now
    return silence


def is_active(silence: Silence, now: datetime) -> bool:
    """Return whether ``silence`` is in force at ``now``."""
    return silence.expired_at is None and silence.ends_at > now


def load_active_silences(session: Session, now: datetime) -> list[ActiveSilence]:
    """Return the silences in force at ``now``."""
    rows = session.scalars(
        select(Silence).where(Silence.expired_at.is_(None), Silence.ends_at > now)
    ).all()
    return [
        ActiveSilence(
            id=row.id,
            matchers=tuple(Matcher(label, op, value) for label, op, value in row.matchers),
            ends_at=row.ends_at,
        )
        for row in rows
    ]


def add_suppressed(session: Session, counts: Mapping[str, int]) -> None:
    """Add to the suppressed counters of silences, by silence id."""
    for silence_id, count in counts.items():
        session.execute(
            update(Silence)
            .where(Silence.id == silence_id)
            .values(suppressed=Silence.suppressed + count)
        )
