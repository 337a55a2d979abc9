"""The /metrics adapter against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.metrics.conftest import ExpositionServer, closed_port_url
from watchdog.errors import InputError, TransientServiceError
from watchdog.metrics.scrape import MetricsScraper


def test_fetch_returns_the_body(exposition_server: ExpositionServer) -> None:
    exposition_server.body = b"inference_queue_depth 3\n"
    scraper = MetricsScraper(timeout=2.0, max_bytes=1024)

    assert scraper.fetch(exposition_server.url) == "inference_queue_depth 3\n"


def test_declared_length_over_cap_is_rejected(exposition_server: ExpositionServer) -> None:
    exposition_server.body = b"x" * 2048
    scraper = MetricsScraper(timeout=2.0, max_bytes=1024)

    with pytest.raises(InputError, match=r"2048 bytes .* over the 1024-byte limit"):
        scraper.fetch(exposition_server.url)


def test_streamed_body_over_cap_is_rejected(exposition_server: ExpositionServer) -> None:
    # No Content-Length: the cap must hold while reading.
    exposition_server.body = b"x" * 4096
    exposition_server.drip = (512, 0.0)
    scraper = MetricsScraper(timeout=2.0, max_bytes=1024)

    with pytest.raises(InputError, match="over the 1024-byte limit"):
        scraper.fetch(exposition_server.url)


def test_slow_response_times_out(exposition_server: ExpositionServer) -> None:
    exposition_server.body = b"inference_queue_depth 3\n"
    exposition_server.delay = 1.0
    scraper = MetricsScraper(timeout=0.3, max_bytes=1024)

    with pytest.raises(TransientServiceError, match=r"timed out after 0.3s"):
        scraper.fetch(exposition_server.url)


def test_dripping_body_hits_the_total_deadline(exposition_server: ExpositionServer) -> None:
    # Each chunk arrives well within the per-read timeout; the whole body does not.
    exposition_server.body = b"x" * 100
    exposition_server.drip = (10, 0.1)
    scraper = MetricsScraper(timeout=0.35, max_bytes=10_000)

    with pytest.raises(TransientServiceError, match="timed out"):
        scraper.fetch(exposition_server.url)


def test_http_error_status_is_transient(exposition_server: ExpositionServer) -> None:
    exposition_server.status = 503
    scraper = MetricsScraper(timeout=2.0, max_bytes=1024)

    with pytest.raises(TransientServiceError, match="HTTP status 503"):
        scraper.fetch(exposition_server.url)


def test_refused_connection_is_transient() -> None:
    scraper = MetricsScraper(timeout=2.0, max_bytes=1024)

    with pytest.raises(TransientServiceError, match="ConnectError"):
        scraper.fetch(closed_port_url() + "/metrics")


def test_non_utf8_body_is_rejected(exposition_server: ExpositionServer) -> None:
    exposition_server.body = b"\xff\xfe metrics"
    scraper = MetricsScraper(timeout=2.0, max_bytes=1024)

    with pytest.raises(InputError, match="not UTF-8"):
        scraper.fetch(exposition_server.url)
