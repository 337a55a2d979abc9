"""The CloudWatch adapter against moto's server, behind a proxy that can throttle or reject."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.metrics.conftest import CallCounter, closed_port_url, cloudwatch_client
from watchdog.aws import AwsClients
from watchdog.aws_retry import backoff_delay, call_with_retry
from watchdog.embedded.aws import EmbeddedAws
from watchdog.errors import TransientServiceError
from watchdog.metrics.datums import MetricDatum
from watchdog.metrics.limits import plan_requests, request_size
from watchdog.metrics.publisher import CloudWatchPublisher, MetricDataRejected

DIMENSIONS = (("Service", "inference"), ("Host", "test-host"))


class FaultProxy:
    """Forwards AWS requests to moto, after returning an AWS error for the first ones."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failures: list[tuple[int, str]] = []
        self.received = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                proxy.received += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if proxy.failures:
                    status, code = proxy.failures.pop(0)
                    payload = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("x-amzn-query-error", f"{code};Sender")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {key: value for key, value in self.headers.items() if key.lower() != "host"}
                answer = httpx.post(proxy.upstream + self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fault_proxy(moto_server: EmbeddedAws) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_server.endpoint_url)
    yield proxy
    proxy.stop()


def heartbeat(at: datetime) -> MetricDatum:
    return MetricDatum(name="WatchdogHeartbeat", dimensions=DIMENSIONS, timestamp=at, unit="Count", value=1.0)


def recent() -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)


def test_throttled_request_is_retried_with_jitter(aws_clients: AwsClients, fault_proxy: FaultProxy) -> None:
    client = cloudwatch_client(aws_clients, fault_proxy.url)
    delays: list[float] = []
    publisher = CloudWatchPublisher(
        client, "TestThrottle", attempts=3, sleep=delays.append, uniform=lambda: 0.5
    )
    fault_proxy.failures = [(400, "Throttling"), (400, "Throttling")]

    attempts = publisher.send_batch([heartbeat(recent())])

    assert attempts == 3
    assert fault_proxy.received == 3
    # Full jitter: half of min(2.0, 0.2 * 2 ** (n - 1)) with the uniform draw fixed at 0.5.
    assert delays == [0.1, 0.2]


def test_throttling_on_every_attempt_is_transient(aws_clients: AwsClients, fault_proxy: FaultProxy) -> None:
    client = cloudwatch_client(aws_clients, fault_proxy.url)
    publisher = CloudWatchPublisher(client, "TestThrottle", attempts=2, sleep=lambda _: None)
    fault_proxy.failures = [(400, "Throttling"), (400, "Throttling")]

    with pytest.raises(TransientServiceError, match="Throttling"):
        publisher.send_batch([heartbeat(recent())])

    assert fault_proxy.received == 2


def test_rejected_data_is_not_retried(aws_clients: AwsClients, fault_proxy: FaultProxy) -> None:
    client = cloudwatch_client(aws_clients, fault_proxy.url)
    publisher = CloudWatchPublisher(client, "TestReject", attempts=3, sleep=lambda _: None)
    fault_proxy.failures = [(400, "InvalidParameterValue")]

    with pytest.raises(MetricDataRejected, match="InvalidParameterValue"):
        publisher.send_batch([heartbeat(recent())])

    assert fault_proxy.received == 1


def test_unreachable_endpoint_is_transient_and_not_retried(aws_clients: AwsClients) -> None:
    client = cloudwatch_client(aws_clients, closed_port_url())
    delays: list[float] = []
    publisher = CloudWatchPublisher(client, "TestDown", attempts=3, sleep=delays.append)

    with pytest.raises(TransientServiceError, match="cannot reach the endpoint"):
        publisher.send_batch([heartbeat(recent())])

    assert delays == []


def test_size_estimate_covers_the_real_body(aws_clients: AwsClients) -> None:
    client = cloudwatch_client(aws_clients)
    counter = CallCounter(client)
    publisher = CloudWatchPublisher(client, "TestSize", attempts=1)
    at = recent()
    datums = [
        MetricDatum(
            name="InferenceTime",
            dimensions=DIMENSIONS,
            timestamp=at,
            unit="Milliseconds",
            values=tuple(index * 1.0000001 + 0.123456789 for index in range(150)),
            counts=tuple(float(index % 9 + 1) for index in range(150)),
        )
        for _ in range(40)
    ] + [heartbeat(at)]

    for request in plan_requests(datums):
        publisher.send_batch(request)

    assert counter.calls == 1
    assert counter.body_sizes[0] <= sum(request_size(datum) for datum in datums)


def test_call_with_retry_raises_unlisted_codes_at_once() -> None:
    calls = 0

    def deny() -> None:
        nonlocal calls
        calls += 1
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutMetricData")

    with pytest.raises(ClientError):
        call_with_retry("test", deny, attempts=5, sleep=lambda _: None)

    assert calls == 1


def test_backoff_delay_is_capped() -> None:
    assert backoff_delay(10, base=0.2, cap=2.0, uniform=lambda: 0.999) == pytest.approx(1.998)
