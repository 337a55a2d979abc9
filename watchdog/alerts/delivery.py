"""Delivery of outbox messages to Slack: the slack-sdk adapter and the delivery job.

``SlackSender`` is the only place that talks to Slack. It translates every
response into success, ``TransientServiceError`` (429 with its ``Retry-After``,
5xx, timeouts, connection failures) or ``PermanentServiceError`` (an
``ok: false`` error such as ``channel_not_found`` or ``invalid_auth``, a
webhook's 4xx). Error texts are built here from status codes and Slack's
error codes, never from the library's messages, which can contain a webhook
URL.

``DeliveryWorker.run_once`` is the delivery job. It never sleeps: a message
that must wait gets a ``next_attempt_at`` in the outbox, and the job looks
again on its next run.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError

from watchdog.alerts.outbox import Claim, Outbox
from watchdog.config.alerts import DeliverySettings, FloodGuardSettings
from watchdog.errors import PermanentServiceError, TransientServiceError
from watchdog.slack import SlackClients

logger = logging.getLogger(__name__)

WEBHOOK_PREFIX = "webhook:"
# ok:false errors that Slack documents as temporary server-side trouble.
TRANSIENT_SLACK_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
# Used when a 429 carries no usable Retry-After header.
DEFAULT_RETRY_AFTER = 30.0
# Longest Retry-After honoured; Slack sends seconds to a minute. The cap bounds every wait the
# outbox stores, so a wait that ends further ahead shows that the wall clock stepped back.
MAX_RETRY_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class SendResult:
    """Slack's identifiers of an accepted message."""

    ts: str | None
    channel_id: str | None


def parse_retry_after(value: object) -> float:
    """Return the seconds of a ``Retry-After`` header, or the default when it is missing or odd."""
    try:
        seconds = float(str(value))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return seconds if seconds >= 0 else DEFAULT_RETRY_AFTER


def _header(headers: Any, name: str) -> object:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return value[0] if isinstance(value, list) and value else value
    return None


def retry_delay(attempts: int, initial: timedelta, maximum: timedelta, jitter: float) -> timedelta:
    """Return the backoff before the next attempt: doubling from ``initial``, capped, jittered.

    ``jitter`` in [0, 1) picks a delay between half and all of the doubled value,
    so that messages failing together do not retry together.
    """
    exponent = min(max(attempts - 1, 0), 30)
    base: timedelta = min(initial * (2**exponent), maximum)
    return base * (0.5 + 0.5 * jitter)


class SlackSender:
    """Sends a frozen payload to a channel (bot token) or an incoming webhook."""

    def __init__(self, clients: SlackClients) -> None:
        self._clients = clients

    def send(self, claim: Claim) -> SendResult:
        """Send one claimed message; raise a ``TransientServiceError`` or ``PermanentServiceError``."""
        if claim.target.startswith(WEBHOOK_PREFIX):
            return self._send_webhook(claim)
        return self._send_channel(claim)

    def _send_channel(self, claim: Claim) -> SendResult:
        web = self._clients.web
        operation = "files.upload" if claim.kind == "file" else "chat.postMessage"
        if web is None:
            raise PermanentServiceError(
                "Slack",
                operation,
                f"no bot token is configured for channel {claim.target}: set slack.bot_token or "
                "route these alerts to a webhook",
            )
        payload = claim.payload
        try:
            if claim.kind == "file":
                response = web.files_upload_v2(
                    channel=claim.channel_id or claim.target,
                    content=base64.b64decode(payload["content_base64"]),
                    filename=payload["filename"],
                    title=payload.get("title"),
                    initial_comment=payload.get("initial_comment"),
                )
                file_info = response.get("file") or {}
                return SendResult(ts=str(file_info.get("id", "")) or None, channel_id=None)
            response = web.chat_postMessage(
                channel=claim.target,
                text=payload["text"],
                blocks=payload.get("blocks"),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _api_error(operation, exc) from exc
        except SlackRequestError as exc:
            # Raised by files_upload_v2 when the upload URL does not return HTTP 200.
            raise TransientServiceError("Slack", operation, "the file upload step failed") from exc
        except SlackClientError as exc:
            raise PermanentServiceError("Slack", operation, type(exc).__name__) from exc
        except (TimeoutError, URLError, OSError) as exc:
            raise TransientServiceError("Slack", operation, _network_detail(exc)) from exc
        return SendResult(ts=response.get("ts"), channel_id=response.get("channel"))

    def _send_webhook(self, claim: Claim) -> SendResult:
        name = claim.target.removeprefix(WEBHOOK_PREFIX)
        operation = f"webhook {name}"
        client = self._clients.webhooks.get(name)
        if client is None:
            raise PermanentServiceError(
                "Slack", operation, f"webhook {name!r} is not configured: add it to slack.webhooks"
            )
        if claim.kind == "file":
            raise PermanentServiceError(
                "Slack", operation, "incoming webhooks cannot upload files: route it to a channel"
            )
        try:
            response = client.send_dict(
                {"text": claim.payload["text"], "blocks": claim.payload.get("blocks")}
            )
        except (TimeoutError, URLError, OSError) as exc:
            raise TransientServiceError("Slack", operation, _network_detail(exc)) from exc
        status = response.status_code
        body = (response.body or "").strip()[:100]
        if status == 200 and body == "ok":
            return SendResult(ts=None, channel_id=None)
        if status == 429:
            retry_after = parse_retry_after(_header(response.headers, "Retry-After"))
            raise TransientServiceError("Slack", operation, "HTTP 429 rate limited", retry_after)
        if status >= 500:
            raise TransientServiceError("Slack", operation, f"HTTP {status}")
        raise PermanentServiceError("Slack", operation, f"HTTP {status} {body!r}")


def _network_detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or "timed out" in str(getattr(exc, "reason", "")):
        return "timed out"
    return f"connection failed ({type(exc).__name__})"


def _api_error(operation: str, exc: SlackApiError) -> TransientServiceError | PermanentServiceError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    error = str(response.get("error", "unknown_error")) if response is not None else "unknown_error"
    if status == 429:
        retry_after = parse_retry_after(_header(getattr(response, "headers", None), "Retry-After"))
        return TransientServiceError("Slack", operation, "HTTP 429 rate limited", retry_after)
    if status >= 500:
        return TransientServiceError("Slack", operation, f"HTTP {status}")
    if error in TRANSIENT_SLACK_ERRORS:
        return TransientServiceError("Slack", operation, f"Slack returned {error!r}")
    return PermanentServiceError("Slack", operation, f"Slack returned {error!r}")


@dataclass
class DeliveryReport:
    """Counts of one run of the delivery job."""

    sent: int = 0
    retried: int = 0
    dead: int = 0


class DeliveryWorker:
    """The delivery job: claims due messages, sends them and records the outcome."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        sender: SlackSender,
        delivery: DeliverySettings,
        flood_guard: FloodGuardSettings,
        now: Callable[[], datetime],
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._delivery = delivery
        self._flood_guard = flood_guard
        self._now = now
        self._jitter = jitter

    def run_once(self) -> DeliveryReport:
        """Send every message that is due now, at most one per target."""
        report = DeliveryReport()
        horizon = max(
            self._delivery.claim_timeout,
            self._delivery.backoff_max,
            self._flood_guard.min_interval,
            MAX_RETRY_AFTER,
        )
        claims = self._outbox.claim_due(
            self._now(),
            self._delivery.claim_timeout,
            self._flood_guard.min_interval,
            horizon=horizon,
        )
        for claim in claims:
            self._deliver(claim, report)
        return report

    def _deliver(self, claim: Claim, report: DeliveryReport) -> None:
        try:
            result = self._sender.send(claim)
        except TransientServiceError as exc:
            self._retry_or_bury(claim, exc, report)
            return
        except PermanentServiceError as exc:
            self._outbox.mark_dead(claim, exc.detail)
            report.dead += 1
            logger.error(
                "outbox message %s (%s) to %s moved to the dead letters: %s",
                claim.id,
                claim.subject,
                claim.target,
                exc,
            )
            return
        self._outbox.mark_sent(claim, self._now(), result.ts, result.channel_id)
        report.sent += 1
        logger.info(
            "sent outbox message %s (%s) to %s on attempt %d",
            claim.id,
            claim.subject,
            claim.target,
            claim.attempts,
        )

    def _retry_or_bury(
        self, claim: Claim, exc: TransientServiceError, report: DeliveryReport
    ) -> None:
        now = self._now()
        if now - claim.created_at >= self._delivery.max_age:
            self._outbox.mark_dead(claim, f"gave up after {claim.attempts} attempts: {exc.detail}")
            report.dead += 1
            logger.error(
                "outbox message %s (%s) to %s moved to the dead letters after %d attempts: %s",
                claim.id,
                claim.subject,
                claim.target,
                claim.attempts,
                exc,
            )
            return
        pause_until = None
        if exc.retry_after is not None:
            # Slack rate limits per channel (or webhook), so the whole target waits.
            next_attempt_at = now + min(timedelta(seconds=exc.retry_after), MAX_RETRY_AFTER)
            pause_until = next_attempt_at
        else:
            delay = retry_delay(
                claim.attempts,
                self._delivery.backoff_initial,
                self._delivery.backoff_max,
                self._jitter(),
            )
            next_attempt_at = now + delay
        self._outbox.mark_retry(claim, next_attempt_at, exc.detail, pause_until)
        report.retried += 1
        logger.warning(
            "outbox message %s (%s) to %s failed on attempt %d: %s; retrying at %s",
            claim.id,
            claim.subject,
            claim.target,
            claim.attempts,
            exc,
            next_attempt_at.isoformat(timespec="seconds"),
        )
