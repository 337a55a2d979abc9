"""When a group of alerts is announced and what its message contains: Alertmanager's policy.

Pure functions of the group's timer, its members and the clock:

- a new group waits ``group_wait`` for more alerts before its first message;
- after a message, the group is looked at again every ``group_interval`` and
  sends only what is new: alerts whose current episode was not announced and,
  with ``send_resolved``, announced alerts that resolved;
- a group with nothing new but alerts still firing is announced again after
  ``repeat_interval``.

Silenced and flapping alerts are left out; a silenced alert is announced
once its silence ends, if it still fires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from watchdog.alerts.routing import Route
from watchdog.alerts.state import AlertRecord
from watchdog.config.alerts import NotificationPolicy


@dataclass
class GroupTimer:
    """When a group was first seen and when it last sent a message (in memory only)."""

    created_at: datetime
    last_sent_at: datetime | None = None


@dataclass(frozen=True)
class GroupPlan:
    """A due group's decision: the alerts of its message and the records that change."""

    key: str
    route: Route
    firing: tuple[AlertRecord, ...]
    resolved: tuple[AlertRecord, ...]
    still_firing: tuple[AlertRecord, ...]
    repeat: bool
    # Resolutions marked as handled without a message (send_resolved off, or silenced).
    quiet: tuple[AlertRecord, ...]

    @property
    def has_message(self) -> bool:
        """Whether the plan sends a message."""
        return bool(self.firing or self.resolved)

    def updated_records(self, now: datetime) -> list[AlertRecord]:
        """Return the member records as they are once the plan is queued."""
        updated = [replace(r, announced_episode=r.episode, announced_at=now) for r in self.firing]
        updated += [replace(r, resolved_announced_episode=r.episode) for r in self.resolved]
        updated += [replace(r, resolved_announced_episode=r.episode) for r in self.quiet]
        return updated


def group_due(timer: GroupTimer, now: datetime, policy: NotificationPolicy) -> bool:
    """Return whether the group may send: ``group_wait`` after its start, then each ``group_interval``.

    A timer from the future means the wall clock stepped back; the group is
    due then, instead of waiting until the clock catches up.
    """
    if timer.created_at > now or (timer.last_sent_at is not None and timer.last_sent_at > now):
        return True
    if timer.last_sent_at is None:
        return now >= timer.created_at + policy.group_wait
    return now >= timer.last_sent_at + policy.group_interval


def plan_group(
    key: str,
    route: Route,
    members: Sequence[AlertRecord],
    now: datetime,
    is_silenced: Callable[[AlertRecord], bool],
) -> GroupPlan | None:
    """Decide what a due group announces; None when there is nothing to send or to record."""
    policy = route.policy
    held = [m for m in members if not m.flapping]
    new_firing = tuple(m for m in held if m.needs_firing_announcement and not is_silenced(m))
    resolved_candidates = [m for m in held if m.needs_resolved_announcement]
    resolved = tuple(
        m for m in resolved_candidates if policy.send_resolved and not is_silenced(m)
    )
    quiet = tuple(m for m in resolved_candidates if m not in resolved)
    announced = tuple(m for m in held if m.announced_firing and not is_silenced(m))

    repeat = False
    firing = new_firing
    still_firing = announced
    if not new_firing and not resolved and announced:
        last_announced = min(m.announced_at or now for m in announced)
        if now >= last_announced + policy.repeat_interval:
            repeat = True
            firing = announced
            still_firing = ()

    if not firing and not resolved and not quiet:
        return None
    return GroupPlan(
        key=key,
        route=route,
        firing=firing,
        resolved=resolved,
        still_firing=still_firing,
        repeat=repeat,
        quiet=quiet,
    )
