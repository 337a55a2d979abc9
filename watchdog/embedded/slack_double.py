"""A local stand-in for the Slack Web API, for the embedded default and the tests.

It speaks HTTP on 127.0.0.1 the way Slack does, so the daemon reaches it
through the ordinary ``slack_sdk`` clients with only ``base_url`` (or the
webhook URL) changed:

- Web API methods under ``/api/``: ``api.test``, ``auth.test``,
  ``chat.postMessage``, ``files.getUploadURLExternal`` and
  ``files.completeUploadExternal``;
- the upload URL of the three-step file upload, ``/upload/FILE_ID``, so that
  ``WebClient.files_upload_v2`` works end to end;
- incoming webhooks at ``/services/T.../B.../SECRET``, returning ``ok`` as
  plain text, as Slack's webhooks do;
- a control endpoint for fault injection (see ``watchdog.embedded.slack_faults``):
  ``GET``/``POST``/``DELETE /_double/faults``.

Every request it receives is appended to a JSON Lines file and kept in
memory. Neither holds a secret: the bearer token is checked for presence
but never recorded, a webhook is recorded by its team and bot ids without
the secret last part of its path, and uploaded file contents stay in memory.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from watchdog.embedded.slack_faults import (
    WEBHOOK_ERROR_STATUS,
    Fault,
    FaultDecision,
    FaultPlan,
    retry_after_header,
)

logger = logging.getLogger(__name__)

BIND_HOST = "127.0.0.1"
WEBHOOK_PREFIX = "/services/"
UPLOAD_PREFIX = "/upload/"
CONTROL_FAULTS = "/_double/faults"
_WEBHOOK_PATH = re.compile(r"/services/[^\s'\"]*")


@dataclass
class SlackReply:
    """The HTTP response to one request; ``text`` replaces the JSON body when set (webhooks)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True)
class UploadedFile:
    """A file received through the three-step upload."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel_id: str | None = None


def channel_id(name: str) -> str:
    """Return a stable Slack-style channel id for a channel name such as ``#alerts``."""
    if name.startswith(("C", "G", "D")) and name[1:].isalnum() and name.isupper():
        return name
    return f"C{zlib.crc32(name.lstrip('#').encode()):08X}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def webhook_identity(path: str) -> str | None:
    """Return ``T.../B...`` for a webhook path ``/services/T.../B.../SECRET``, else None."""
    parts = path.removeprefix(WEBHOOK_PREFIX).strip("/").split("/")
    if not path.startswith(WEBHOOK_PREFIX) or len(parts) != 3 or not all(parts):
        return None
    return f"{parts[0]}/{parts[1]}"


def safe_path(path: str) -> str:
    """Return the request path with a webhook's secret part masked, for logs."""
    plain = urlsplit(path).path
    if not plain.startswith(WEBHOOK_PREFIX):
        return plain
    identity = webhook_identity(plain)
    # A malformed webhook path may still hold a secret anywhere after the prefix.
    return f"{WEBHOOK_PREFIX}{identity}/***" if identity else f"{WEBHOOK_PREFIX}***"


class SlackDouble:
    """The Slack API double: a threaded HTTP server, a request log, the API methods and faults.

    ``clock`` stamps the recorded requests and bounds faults by time. Tests
    pass the same controlled clock they give the daemon, so "sent before
    Retry-After elapsed" compares two readings of one clock.
    """

    def __init__(
        self,
        log_path: Path | None = None,
        echo: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.log_path = log_path
        self._echo = echo
        self.clock = clock
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._ts_counter = 0
        self._uploads: dict[str, UploadedFile] = {}
        self._completed: list[UploadedFile] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.fault_plan = FaultPlan(self._read_clock)
        self.methods: dict[str, Callable[[dict[str, Any], bool], SlackReply]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    def _read_clock(self) -> datetime:
        # Read through the attribute, so that a test may swap the clock after construction.
        return self.clock()

    # -- server lifecycle -------------------------------------------------

    def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a free port when ``port`` is 0) in a background thread."""
        double = self

        class Handler(_Handler):
            slack = double

        self._server = ThreadingHTTPServer((BIND_HOST, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slack-double", daemon=True
        )
        self._thread.start()
        logger.info("Slack API double listening on %s", self.base_url)

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the server is bound to."""
        if self._server is None:
            raise RuntimeError("the Slack double is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL to give ``slack_sdk.WebClient(base_url=...)``."""
        return f"{self.root_url}/api/"

    def webhook_url(
        self, team: str = "T0EMBEDDED", bot: str = "B0WATCHDOG", secret: str = "embedded0secret0"  # noqa: S107 - a placeholder
    ) -> str:
        """Return an incoming webhook URL on this double; the last part plays the secret."""
        return f"{self.root_url}{WEBHOOK_PREFIX}{team}/{bot}/{secret}"

    # -- fault injection --------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Inject ``fault``; see ``watchdog.embedded.slack_faults`` for the kinds."""
        logger.info("Slack double: injecting %s on %s", fault.kind, fault.method)
        return self.fault_plan.add(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault, so the double responds normally again."""
        self.fault_plan.clear()

    # -- what was received ------------------------------------------------

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return the recorded requests, optionally only those for one API method."""
        with self._lock:
            return [dict(r) for r in self._requests if method is None or r["method"] == method]

    def messages(self) -> list[dict[str, Any]]:
        """Return the bodies of the ``chat.postMessage`` calls that were accepted (``ok: true``)."""
        return [
            r["body"]
            for r in self.requests()
            if r["method"] == "chat.postMessage" and r["status"] == HTTPStatus.OK and r["ok"]
        ]

    def accepted(self) -> list[dict[str, Any]]:
        """Return every accepted message, from the Web API or a webhook, oldest first.

        Each entry has ``time`` (the double's clock), ``target`` (the channel
        as sent, or ``webhook:T.../B...``) and ``body``.
        """
        return [
            {"time": r["time"], "target": r["target"], "body": r["body"]}
            for r in self.requests()
            if r["method"] in ("chat.postMessage", "webhook") and r["ok"]
        ]

    def uploads(self) -> list[UploadedFile]:
        """Return the files whose upload was completed, with their contents."""
        with self._lock:
            return list(self._completed)

    def record(self, entry: dict[str, Any]) -> None:
        """Store one request in memory and in the JSON Lines file."""
        with self._lock:
            self._requests.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        if self._echo is not None and entry["ok"] and entry["method"] in ("chat.postMessage", "webhook"):
            text = str(entry["body"].get("text", ""))
            first_line = text.splitlines()[0] if text else ""
            self._echo(f"slack {entry['target']}: {first_line}")

    # -- API methods ------------------------------------------------------

    def _next_ts(self) -> str:
        with self._lock:
            self._ts_counter += 1
            return f"{int(time.time())}.{self._ts_counter:06d}"

    def _api_test(self, params: dict[str, Any], authed: bool) -> SlackReply:
        return SlackReply(HTTPStatus.OK, {"ok": True, "args": params})

    def _auth_test(self, params: dict[str, Any], authed: bool) -> SlackReply:
        if not authed:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "not_authed"})
        return SlackReply(
            HTTPStatus.OK,
            {
                "ok": True,
                "url": "http://embedded.slack.local/",
                "team": "Embedded",
                "user": "inference-watchdog",
                "team_id": "T0EMBEDDED",
                "user_id": "U0WATCHDOG",
                "bot_id": "B0WATCHDOG",
            },
        )

    def _chat_post_message(self, params: dict[str, Any], authed: bool) -> SlackReply:
        if not authed:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "not_authed"})
        channel = params.get("channel")
        if not channel:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "channel_not_found"})
        if not params.get("text") and not params.get("blocks"):
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "no_text"})
        ts = self._next_ts()
        message = {"type": "message", "text": params.get("text", ""), "ts": ts, "bot_id": "B0WATCHDOG"}
        body = {"ok": True, "channel": channel_id(str(channel)), "ts": ts, "message": message}
        return SlackReply(HTTPStatus.OK, body)

    def _files_get_upload_url(self, params: dict[str, Any], authed: bool) -> SlackReply:
        if not authed:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "not_authed"})
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "invalid_arguments"})
        with self._lock:
            file_id = f"F{len(self._uploads) + 1:010d}"
            self._uploads[file_id] = UploadedFile(file_id, filename, length)
        upload_url = f"{self.root_url}{UPLOAD_PREFIX}{file_id}"
        return SlackReply(HTTPStatus.OK, {"ok": True, "upload_url": upload_url, "file_id": file_id})

    def receive_upload(self, file_id: str, content: bytes) -> SlackReply:
        """Accept the bytes of step two of the upload, at the URL step one returned."""
        with self._lock:
            pending = self._uploads.get(file_id)
            if pending is None:
                return SlackReply(HTTPStatus.NOT_FOUND, {}, text="file_not_found")
            self._uploads[file_id] = UploadedFile(file_id, pending.filename, len(content), content)
        return SlackReply(HTTPStatus.OK, {}, text=f"OK - {len(content)}")

    def _files_complete_upload(self, params: dict[str, Any], authed: bool) -> SlackReply:
        if not authed:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "not_authed"})
        try:
            files = json.loads(str(params.get("files") or "[]"))
        except json.JSONDecodeError:
            return SlackReply(HTTPStatus.OK, {"ok": False, "error": "invalid_arguments"})
        channel = params.get("channel_id")
        done = []
        with self._lock:
            for item in files:
                uploaded = self._uploads.get(str(item.get("id")))
                if uploaded is None or uploaded.content is None:
                    return SlackReply(HTTPStatus.OK, {"ok": False, "error": "file_not_found"})
                done.append(
                    UploadedFile(
                        uploaded.file_id,
                        uploaded.filename,
                        uploaded.length,
                        uploaded.content,
                        item.get("title"),
                        channel_id(str(channel)) if channel else None,
                    )
                )
            self._completed.extend(done)
        listed = [
            {"id": f.file_id, "name": f.filename, "title": f.title, "size": f.length} for f in done
        ]
        return SlackReply(HTTPStatus.OK, {"ok": True, "files": listed})

    def receive_webhook(self, identity: str, raw: bytes) -> tuple[SlackReply, dict[str, Any]]:
        """Accept one incoming-webhook post; return the reply and the parsed body."""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return SlackReply(HTTPStatus.BAD_REQUEST, {}, text="invalid_payload"), {}
        if not isinstance(body, dict):
            return SlackReply(HTTPStatus.BAD_REQUEST, {}, text="invalid_payload"), {}
        if not body.get("text") and not body.get("blocks"):
            return SlackReply(HTTPStatus.BAD_REQUEST, {}, text="no_text"), body
        return SlackReply(HTTPStatus.OK, {"ok": True}, text="ok"), body


def fault_reply(decision: FaultDecision, webhook: bool) -> SlackReply | None:
    """Return the response a fault makes, or None for a slow response that then proceeds."""
    fault = decision.fault
    if fault.kind == "slow":
        time.sleep(fault.delay)
        return None
    if fault.kind in ("rate_limited", "channel_rate"):
        seconds = decision.retry_after if decision.retry_after is not None else fault.retry_after
        headers = {"Retry-After": retry_after_header(seconds)}
        return SlackReply(
            HTTPStatus.TOO_MANY_REQUESTS,
            {"ok": False, "error": "ratelimited"},
            headers,
            text="rate_limited" if webhook else None,
        )
    if fault.kind == "timeout":
        time.sleep(fault.delay)
        return SlackReply(
            HTTPStatus.GATEWAY_TIMEOUT, {"ok": False, "error": "request_timeout"}, text="request_timeout"
        )
    if fault.kind == "server_error":
        return SlackReply(fault.status, {"ok": False, "error": "internal_error"}, text="internal_error")
    # kind == "error"
    if webhook:
        return SlackReply(WEBHOOK_ERROR_STATUS.get(fault.error, 400), {}, text=fault.error)
    return SlackReply(HTTPStatus.OK, {"ok": False, "error": fault.error})


class _Handler(BaseHTTPRequestHandler):
    slack: SlackDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # The request line contains a webhook's secret path, so log the masked path instead.
        text = _WEBHOOK_PATH.sub(lambda match: safe_path(match.group(0)), format % args)
        logger.debug("slack double: %s", text)

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length))

    def do_DELETE(self) -> None:
        self._dispatch(b"")

    def _dispatch(self, raw: bytes) -> None:
        url = urlsplit(self.path)
        if url.path == CONTROL_FAULTS:
            self._send(self._control(raw))
            return
        if url.path.startswith(WEBHOOK_PREFIX):
            self._webhook(url.path, raw)
            return
        if url.path.startswith(UPLOAD_PREFIX):
            self._upload(url.path.removeprefix(UPLOAD_PREFIX), raw)
            return
        self._web_api(url.path.removeprefix("/api/").strip("/"), url.query, raw)

    def _web_api(self, method: str, query: str, raw: bytes) -> None:
        params = _parse_params(self.headers.get("Content-Type", ""), raw, query)
        authed = self.headers.get("Authorization", "").startswith("Bearer ") or "token" in params
        params.pop("token", None)
        channel = str(params["channel"]) if params.get("channel") else None

        reply = self._faulted(method, channel, webhook=False)
        if reply is None:
            handler = self.slack.methods.get(method)
            if handler is None:
                reply = SlackReply(HTTPStatus.NOT_FOUND, {"ok": False, "error": "unknown_method"})
            else:
                reply = handler(params, authed)
        ok = bool(reply.body.get("ok")) and reply.status == HTTPStatus.OK
        if ok and method == "chat.postMessage" and channel:
            self.slack.fault_plan.record_post(channel)
        self._record(method, channel, reply, params, ok)
        self._send(reply)

    def _webhook(self, path: str, raw: bytes) -> None:
        identity = webhook_identity(path)
        if identity is None:
            reply = SlackReply(HTTPStatus.NOT_FOUND, {}, text="no_service")
            self._record("webhook", None, reply, {}, ok=False)
            self._send(reply)
            return
        target = f"webhook:{identity}"
        faulted = self._faulted("webhook", target, webhook=True)
        body: dict[str, Any] = {}
        if faulted is None:
            reply, body = self.slack.receive_webhook(identity, raw)
        else:
            reply = faulted
        ok = reply.status == HTTPStatus.OK
        if ok:
            self.slack.fault_plan.record_post(target)
        self._record("webhook", target, reply, body, ok)
        self._send(reply)

    def _upload(self, file_id: str, raw: bytes) -> None:
        reply = self._faulted("upload", None, webhook=True)
        if reply is None:
            reply = self.slack.receive_upload(file_id, raw)
        ok = reply.status == HTTPStatus.OK
        self._record("upload", None, reply, {"file_id": file_id, "bytes": len(raw)}, ok)
        self._send(reply)

    def _faulted(self, method: str, channel: str | None, webhook: bool) -> SlackReply | None:
        decision = self.slack.fault_plan.decide(method, channel)
        if decision is None:
            return None
        return fault_reply(decision, webhook)

    def _control(self, raw: bytes) -> SlackReply:
        plan = self.slack.fault_plan
        if self.command == "DELETE":
            self.slack.clear_faults()
            return SlackReply(HTTPStatus.OK, {"ok": True, "faults": []})
        if self.command == "POST":
            try:
                values = json.loads(raw.decode("utf-8"))
                self.slack.add_fault(Fault.from_dict(values, self.slack.clock()))
            except (ValueError, TypeError) as exc:
                return SlackReply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": str(exc)})
        return SlackReply(HTTPStatus.OK, {"ok": True, "faults": [f.as_dict() for f in plan.faults()]})

    def _record(
        self, method: str, target: str | None, reply: SlackReply, body: dict[str, Any], ok: bool
    ) -> None:
        self.slack.record(
            {
                "time": self.slack.clock().isoformat(),
                "method": method,
                "target": target,
                "status": int(reply.status),
                "ok": ok,
                "error": reply.body.get("error") or (reply.text if not ok else None),
                "retry_after": reply.headers.get("Retry-After"),
                "body": body,
            }
        )

    def _send(self, reply: SlackReply) -> None:
        if reply.text is not None:
            payload = reply.text.encode()
            content_type = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(reply.body).encode()
            content_type = "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _parse_params(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if not raw:
        return params
    if "application/json" in content_type:
        body = json.loads(raw.decode("utf-8"))
        if isinstance(body, dict):
            params.update(body)
        return params
    for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
        value: Any = values[-1]
        if key in {"blocks", "attachments"} and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        params[key] = value
    return params

