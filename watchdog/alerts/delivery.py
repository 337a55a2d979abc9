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

An outcome (sent, retry, dead) that cannot be written because the store
fails is kept in memory and written first by the next run, which claims
nothing until it is. Without that, a message Slack accepted would stay
claimed until its lease expired and then be sent again. An outcome held
when the process dies is lost, and that message is sent again after its
lease (at least once).

NOTE: a process killed between Slack accepting a message and the outbox
marking it sent also sends it again, because chat.postMessage has no
idempotency key. The 20-kill reliability test catches this in about one
run in ten. Looking the message up by a metadata tag before a resend would
close the gap.
"""

from __future__ import annotations

import base64
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from sqlalchemy.exc import SQLAlchemyError

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
# The delivery job's outcome writes, as the store's health tracker names them.
OUTCOME_SOURCE = "outbox outcomes"
# Exceptions slack-sdk 3.x raises on a response it cannot read: a body that is not
# in its declared charset (UnicodeDecodeError), an unknown charset
# (LookupError), or JSON that is not an object (AttributeError, from
# SlackResponse.validate calling .get on it).
_UNREADABLE_RESPONSE = (UnicodeDecodeError, LookupError, AttributeError)
# slack-sdk's error text for a response body that is not JSON.
_NON_JSON_PREFIX = "Received a response in a non-JSON format"
# Used when a 429 carries no usable Retry-After header.
DEFAULT_RETRY_AFTER = 30.0
# Retry-After as delay-seconds (RFC 9110); an HTTP-date gets the default.
_RETRY_AFTER_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")
# Longest Retry-After honoured; Slack sends seconds to a minute. The cap bounds every wait the
# outbox stores, so a wait that ends further ahead shows that the wall clock stepped back.
MAX_RETRY_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class SendResult:
    """Slack's identifiers of an accepted message."""

    ts: str | None
    channel_id: str | None


def parse_retry_after(value: object) -> float:
    """Return the seconds of a ``Retry-After`` header, or the default when it is missing or odd.

    The result is at most ``MAX_RETRY_AFTER``.
    """
    text = str(value).strip() if value is not None else ""
    if not _RETRY_AFTER_SECONDS.fullmatch(text):
        return DEFAULT_RETRY_AFTER
    return min(float(text), MAX_RETRY_AFTER.total_seconds())


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
        except _UNREADABLE_RESPONSE as exc:
            raise _unreadable(operation, exc) from exc
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
        except _UNREADABLE_RESPONSE as exc:
            raise _unreadable(operation, exc) from exc
        failure = classify_webhook_response(operation, response.status_code, response.body, response.headers)
        if failure is not None:
            raise failure
        return SendResult(ts=None, channel_id=None)


def classify_webhook_response(
    operation: str, status: int, body: str | None, headers: Any
) -> TransientServiceError | PermanentServiceError | None:
    """Return the error an incoming webhook's response stands for, or None when it was accepted.

    Slack accepts with ``200 ok``; 429 and 5xx are worth retrying, and any
    other answer (``400 invalid_payload``, ``404 channel_not_found``) is not.
    """
    text = (body or "").strip()[:100]
    if status == 200 and text == "ok":
        return None
    if status == 429:
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
        return TransientServiceError("Slack", operation, "HTTP 429 rate limited", retry_after)
    if status >= 500:
        return TransientServiceError("Slack", operation, f"HTTP {status}")
    return PermanentServiceError("Slack", operation, f"HTTP {status} {text!r}")


def classify_api_error(
    operation: str, status: int, error: str, headers: Any
) -> TransientServiceError | PermanentServiceError:
    """Return the error a failed Web API call stands for, from its HTTP status and Slack error code."""
    if status == 429:
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
        return TransientServiceError("Slack", operation, "HTTP 429 rate limited", retry_after)
    if status >= 500:
        return TransientServiceError("Slack", operation, f"HTTP {status}")
    if error in TRANSIENT_SLACK_ERRORS:
        return TransientServiceError("Slack", operation, f"Slack returned {error!r}")
    return PermanentServiceError("Slack", operation, f"Slack returned {error!r}")


def _unreadable(operation: str, exc: Exception) -> TransientServiceError:
    # Like a timeout, the message may or may not have been posted: retrying
    # risks a duplicate, giving up risks a loss.
    return TransientServiceError(
        "Slack", operation, f"the response could not be read ({type(exc).__name__})"
    )


def _network_detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or "timed out" in str(getattr(exc, "reason", "")):
        return "timed out"
    return f"connection failed ({type(exc).__name__})"


def _api_error(operation: str, exc: SlackApiError) -> TransientServiceError | PermanentServiceError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = "unknown_error"
    if isinstance(data, dict) and data.get("error"):
        error = str(data["error"])
    if error.startswith(_NON_JSON_PREFIX):
        # slack-sdk puts the start of a non-JSON body here, which may quote a URL.
        error = "non-JSON response"
    return classify_api_error(operation, status, error, getattr(response, "headers", None))


@dataclass
class DeliveryReport:
    """Counts of one run of the delivery job."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    # Outcomes of this or earlier runs still waiting for the store.
    unrecorded: int = 0
    failed_writes: list[str] = field(default_factory=list)


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
        # Outcome writes that failed, oldest first, with the message id for logs.
        self._unrecorded: list[tuple[int, Callable[[], None]]] = []

    def run_once(self) -> DeliveryReport:
        """Send every message that is due now, at most one per target."""
        report = DeliveryReport()
        if not self._write_unrecorded():
            report.unrecorded = len(self._unrecorded)
            return report
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
        report.unrecorded = len(self._unrecorded)
        return report

    def _write_unrecorded(self) -> bool:
        """Write the held outcomes in order; return whether none is left."""
        while self._unrecorded:
            message_id, write = self._unrecorded[0]
            try:
                write()
            except SQLAlchemyError as exc:
                self._outbox.store.health.failed(OUTCOME_SOURCE, exc)
                return False
            self._unrecorded.pop(0)
            logger.info("recorded the held outcome of outbox message %s", message_id)
        self._outbox.store.health.succeeded(OUTCOME_SOURCE)
        return True

    def _record(self, claim: Claim, write: Callable[[], None]) -> None:
        """Write one outcome, or hold it for the next run when the store fails."""
        if self._unrecorded:
            self._unrecorded.append((claim.id, write))
            return
        try:
            write()
        except SQLAlchemyError as exc:
            self._unrecorded.append((claim.id, write))
            if not self._outbox.store.health.failed(OUTCOME_SOURCE, exc):
                logger.error("recording the outcome of outbox message %s failed: %s", claim.id, exc)
            logger.warning(
                "holding the outcome of outbox message %s in memory until the store can be "
                "written",
                claim.id,
            )

    def _deliver(self, claim: Claim, report: DeliveryReport) -> None:
        try:
            result = self._sender.send(claim)
        except TransientServiceError as exc:
            self._retry_or_bury(claim, exc, report)
            return
        except PermanentServiceError as exc:
            detail = exc.detail
            self._record(claim, lambda: self._outbox.mark_dead(claim, detail))
            report.dead += 1
            logger.error(
                "outbox message %s (%s) to %s moved to the dead letters: %s",
                claim.id,
                claim.subject,
                claim.target,
                exc,
            )
            return
        sent_at = self._now()
        self._record(
            claim, lambda: self._outbox.mark_sent(claim, sent_at, result.ts, result.channel_id)
        )
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
            error = f"gave up after {claim.attempts} attempts: {exc.detail}"
            self._record(claim, lambda: self._outbox.mark_dead(claim, error))
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
        detail = exc.detail
        self._record(
            claim, lambda: self._outbox.mark_retry(claim, next_attempt_at, detail, pause_until)
        )
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
