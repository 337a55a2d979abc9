"""Token buckets per client, on a controlled clock."""

from __future__ import annotations

import pytest

from watchdog.worker.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_limited() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=10, burst=3, clock=clock)

    decisions = [limiter.acquire("10.0.0.1") for _ in range(4)]

    assert decisions[:3] == [None, None, None]
    assert decisions[3] == pytest.approx(0.1)


def test_tokens_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=10, burst=1, clock=clock)
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == pytest.approx(0.1)

    clock.now += 0.05
    assert limiter.acquire("a") == pytest.approx(0.05)
    clock.now += 0.05

    assert limiter.acquire("a") is None


def test_refill_stops_at_burst() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=100, burst=2, clock=clock)
    limiter.acquire("a")
    clock.now += 3600

    results = [limiter.acquire("a") for _ in range(3)]

    assert results[:2] == [None, None]
    assert results[2] == pytest.approx(0.01)


def test_clients_have_separate_buckets() -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=Clock())

    assert limiter.acquire("a") is None
    assert limiter.acquire("b") is None
    assert limiter.acquire("a") == pytest.approx(1.0)


def test_least_recent_client_is_forgotten_beyond_bound() -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=Clock(), max_clients=2)
    limiter.acquire("a")
    limiter.acquire("b")
    limiter.acquire("c")

    # "a" was dropped, so it starts again with a full bucket; "c" is still empty.
    assert limiter.acquire("a") is None
    assert limiter.acquire("c") == pytest.approx(1.0)


def test_invalid_rate_is_rejected() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucketLimiter(rate=0, burst=1)
