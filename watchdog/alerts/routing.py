"""Routes and groups: which target an alert goes to, and which message it shares with others.

Pure functions of the settings and an alert's identity. A group key depends
only on the route's name and the values of its ``group_by`` labels, never on
timing settings, so changing ``group_wait`` or ``repeat_interval`` in a
reload keeps every group (and what it announced) as it was.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

from watchdog.config.alerts import AlertSettings, NotificationPolicy

DEFAULT_ROUTE_NAME = "default"


@dataclass(frozen=True)
class Route:
    """A route resolved from the settings: its name, target and notification policy."""

    name: str
    target: str
    policy: NotificationPolicy
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()

    def matches(self, rule: str, severity: str) -> bool:
        """Return whether an alert of ``rule`` and ``severity`` takes this route."""
        if self.severities and severity not in self.severities:
            return False
        if not self.rules:
            return True
        return any(fnmatch.fnmatchcase(rule, pattern) for pattern in self.rules)


class RouteTable:
    """The routes in order, then the default route; lookups are cached per rule and severity."""

    def __init__(self, settings: AlertSettings, default_channel: str) -> None:
        self.routes = tuple(
            Route(
                name=route.name,
                target=route.target,
                policy=route,
                rules=route.rules,
                severities=route.severities,
            )
            for route in settings.routes
        )
        self.default = Route(
            name=DEFAULT_ROUTE_NAME,
            target=settings.default_route.target or default_channel,
            policy=settings.default_route,
        )
        self._cache: dict[tuple[str, str], Route] = {}

    def route_for(self, rule: str, severity: str) -> Route:
        """Return the first route that takes the alert, else the default route."""
        key = (rule, severity)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        route = next((r for r in self.routes if r.matches(rule, severity)), self.default)
        self._cache[key] = route
        return route

    def targets(self) -> list[str]:
        """Return every target a message may go to."""
        return sorted({route.target for route in (*self.routes, self.default)})


def group_label_value(name: str, rule: str, severity: str, labels: Mapping[str, str]) -> str:
    """Return the value of one ``group_by`` label; 'rule' and 'severity' name the alert's own."""
    if name == "rule":
        return rule
    if name == "severity":
        return severity
    return labels.get(name, "")


def group_key(route: Route, rule: str, severity: str, labels: Mapping[str, str]) -> str:
    """Return the key of the group the alert belongs to on ``route``."""
    parts = [
        f"{name}={group_label_value(name, rule, severity, labels)}"
        for name in route.policy.group_by
    ]
    return f"{route.name}|{','.join(parts)}"
