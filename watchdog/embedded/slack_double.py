"""A local stand-in for the Slack Web API, for the embedded default and the tests.

It speaks HTTP on 127.0.0.1 the way Slack does, so the daemon reaches it
through the ordinary ``slack_sdk`` clients with only ``base_url`` changed.
Every request it receives is appended to a JSON Lines file and kept in
memory; the bearer token is checked for presence but never recorded.
"""

from __future__ import annotations

import json
import logging
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

logger = logging.getLogger(__name__)

BIND_HOST = "127.0.0.1"


@dataclass
class SlackReply:
    """The HTTP response to one request."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def channel_id(name: str) -> str:
    """Return a stable Slack-style channel id for a channel name such as ``#alerts``."""
    if name.startswith(("C", "G", "D")) and name[1:].isalnum() and name.isupper():
        return name
    return f"C{zlib.crc32(name.lstrip('#').encode()):08X}"


class SlackDouble:
    """The Slack API double: a threaded HTTP server, a request log and the API methods."""

    def __init__(self, log_path: Path | None = None, echo: Callable[[str], None] | None = None) -> None:
        self.log_path = log_path
        self._echo = echo
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._ts_counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.methods: dict[str, Callable[[dict[str, Any], bool], SlackReply]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
        }

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
    def base_url(self) -> str:
        """The Web API base URL to give ``slack_sdk.WebClient(base_url=...)``."""
        host, port = self.address
        return f"http://{host}:{port}/api/"

    # -- what was received ------------------------------------------------

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return the recorded requests, optionally only those for one API method."""
        with self._lock:
            return [dict(r) for r in self._requests if method is None or r["method"] == method]

    def messages(self) -> list[dict[str, Any]]:
        """Return the bodies of the messages that were accepted (``ok: true``)."""
        return [
            r["body"]
            for r in self.requests()
            if r["method"] == "chat.postMessage" and r["status"] == HTTPStatus.OK and r["ok"]
        ]

    def record(self, entry: dict[str, Any]) -> None:
        """Store one request in memory and in the JSON Lines file."""
        with self._lock:
            self._requests.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        if self._echo is not None and entry["method"] == "chat.postMessage":
            text = str(entry["body"].get("text", ""))
            self._echo(f"slack {entry['body'].get('channel')}: {text.splitlines()[0] if text else ''}")

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
        return SlackReply(
            HTTPStatus.OK, {"ok": True, "channel": channel_id(str(channel)), "ts": ts, "message": message}
        )


class _Handler(BaseHTTPRequestHandler):
    slack: SlackDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("slack double: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length))

    def _dispatch(self, raw: bytes) -> None:
        url = urlsplit(self.path)
        method = url.path.removeprefix("/api/").strip("/")
        params = _parse_params(self.headers.get("Content-Type", ""), raw, url.query)
        authed = self.headers.get("Authorization", "").startswith("Bearer ") or "token" in params
        params.pop("token", None)

        handler = self.slack.methods.get(method)
        if handler is None:
            reply = SlackReply(HTTPStatus.NOT_FOUND, {"ok": False, "error": "unknown_method"})
        else:
            reply = handler(params, authed)

        self.slack.record(
            {
                "time": datetime.now(UTC).isoformat(),
                "method": method,
                "status": int(reply.status),
                "ok": bool(reply.body.get("ok")),
                "error": reply.body.get("error"),
                "body": params,
            }
        )
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
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
