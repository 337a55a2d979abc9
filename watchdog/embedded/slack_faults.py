"""Fault injection for the Slack double: rate limits, server errors, slow responses, ``ok: false``.

Tests add ``Fault`` objects through ``SlackDouble.add_fault`` or the double's
HTTP control endpoint (``POST /_double/faults`` with the same fields as
JSON). Each request checks the faults in the order they were added; the
first one that applies decides the response.

Kinds:

- ``rate_limited``: HTTP 429 with ``Retry-After: retry_after`` (seconds).
- ``server_error``: HTTP ``status`` (500 by default).
- ``slow``: wait ``delay`` seconds, then answer normally (a client with a
  shorter timeout gives up, yet the message may be posted, as with Slack).
- ``timeout``: wait ``delay`` seconds, then answer HTTP 504 without posting:
  a request that timed out before Slack processed it, so a client with a
  shorter timeout gives up and the message is not posted.
- ``error``: HTTP 200 with ``{"ok": false, "error": error}`` from the Web
  API, or Slack's status and text for that error from a webhook.
- ``channel_rate``: enforce Slack's pace of one message per ``interval``
  seconds per channel (or webhook): a faster message gets HTTP 429 with the
  remaining wait as ``Retry-After``. The double does not enforce any pace
  unless this fault is present.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

FaultKind = Literal["rate_limited", "server_error", "slow", "timeout", "error", "channel_rate"]
FAULT_KINDS = ("rate_limited", "server_error", "slow", "timeout", "error", "channel_rate")
# The methods that post a message; channel_rate applies only to these.
POSTING_METHODS = ("chat.postMessage", "webhook")

# Status codes of Slack's incoming webhooks for their documented error texts.
WEBHOOK_ERROR_STATUS = {
    "invalid_payload": 400,
    "no_text": 400,
    "too_many_attachments": 400,
    "invalid_token": 403,
    "action_prohibited": 403,
    "posting_to_general_channel_denied": 403,
    "no_service": 404,
    "channel_not_found": 404,
    "user_not_found": 404,
    "channel_is_archived": 410,
}


@dataclass
class Fault:
    """One injected failure; ``count`` and ``until`` bound how long it lasts."""

    kind: FaultKind
    # The API method it applies to ("chat.postMessage", "files.completeUploadExternal", ...),
    # "webhook", "upload" for the file upload URL, or "*" for every request.
    method: str = "*"
    retry_after: float = 1.0
    status: int = 500
    delay: float = 0.0
    error: str = "internal_error"
    interval: float = 1.0
    # How many requests it affects (None: no limit), and the double's clock time it ends at.
    count: int | None = None
    until: datetime | None = None
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")

    def applies(self, method: str, now: datetime) -> bool:
        """Return whether this fault is in force for a request to ``method`` at ``now``."""
        if self.method not in ("*", method):
            return False
        if self.until is not None and now >= self.until:
            return False
        return self.count is None or self.hits < self.count

    def as_dict(self) -> dict[str, Any]:
        """Return the fault as JSON-able values, for the control endpoint."""
        return {
            "kind": self.kind,
            "method": self.method,
            "retry_after": self.retry_after,
            "status": self.status,
            "delay": self.delay,
            "error": self.error,
            "interval": self.interval,
            "count": self.count,
            "until": self.until.isoformat() if self.until else None,
            "hits": self.hits,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], now: datetime) -> Fault:
        """Build a fault from JSON; ``for_seconds`` sets ``until`` relative to ``now``."""
        allowed = {"kind", "method", "retry_after", "status", "delay", "error", "interval", "count"}
        unknown = set(values) - allowed - {"until", "for_seconds"}
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; expected {sorted(allowed)}")
        fault = cls(**{key: value for key, value in values.items() if key in allowed})
        if values.get("for_seconds") is not None:
            fault.until = now + timedelta(seconds=float(values["for_seconds"]))
        elif values.get("until"):
            fault.until = datetime.fromisoformat(str(values["until"]))
        return fault


@dataclass(frozen=True)
class FaultDecision:
    """The fault that decides one request's response, in place of (or before) the normal one."""

    fault: Fault
    # For channel_rate: the seconds the sender must still wait.
    retry_after: float | None = None


class FaultPlan:
    """The faults of one double, checked per request under a lock."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        # Last accepted message per channel or webhook, for channel_rate.
        self._last_post: dict[str, datetime] = {}

    def add(self, fault: Fault) -> Fault:
        """Add ``fault`` after the existing ones and return it."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()
            self._last_post.clear()

    def faults(self) -> list[Fault]:
        """Return the faults in order."""
        with self._lock:
            return list(self._faults)

    def decide(self, method: str, channel: str | None) -> FaultDecision | None:
        """Return the fault that applies to this request (and count it), or None."""
        now = self._clock()
        with self._lock:
            for fault in self._faults:
                if fault.kind == "channel_rate" or not fault.applies(method, now):
                    continue
                fault.hits += 1
                return FaultDecision(fault)
            if channel is None or method not in POSTING_METHODS:
                return None
            for fault in self._faults:
                if fault.kind != "channel_rate" or not fault.applies(method, now):
                    continue
                last = self._last_post.get(channel)
                if last is not None:
                    waited = (now - last).total_seconds()
                    if waited < fault.interval:
                        fault.hits += 1
                        return FaultDecision(fault, retry_after=fault.interval - waited)
        return None

    def record_post(self, channel: str) -> None:
        """Note an accepted message to ``channel`` for the channel_rate fault."""
        with self._lock:
            self._last_post[channel] = self._clock()


def retry_after_header(seconds: float) -> str:
    """Format ``Retry-After`` as Slack does: whole seconds, rounded up."""
    return str(max(math.ceil(seconds), 0))
