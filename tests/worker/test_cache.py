"""The prediction cache: TTL on a controlled clock, stale reads and the size bound."""

from __future__ import annotations

import numpy as np
import pytest

from watchdog.worker.cache import PredictionCache, cache_key


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_entry_is_fresh_before_ttl() -> None:
    clock = Clock()
    cache = PredictionCache(ttl=900, max_entries=10, clock=clock)
    cache.put(b"k", [3, 1])
    clock.now += 899.9

    assert cache.get_fresh(b"k") == (3, 1)


def test_entry_expires_at_ttl() -> None:
    clock = Clock()
    cache = PredictionCache(ttl=900, max_entries=10, clock=clock)
    cache.put(b"k", [3])
    clock.now += 900

    assert cache.get_fresh(b"k") is None


def test_expired_entry_kept_for_stale_reads() -> None:
    clock = Clock()
    cache = PredictionCache(ttl=1, max_entries=10, clock=clock)
    cache.put(b"k", [7])
    clock.now += 10_000

    assert cache.get_any(b"k") == (7,)


def test_least_recently_used_entry_is_dropped() -> None:
    cache = PredictionCache(ttl=60, max_entries=2, clock=Clock())
    cache.put(b"a", [1])
    cache.put(b"b", [2])
    cache.get_fresh(b"a")
    cache.put(b"c", [3])

    assert len(cache) == 2
    assert cache.get_any(b"b") is None
    assert cache.get_any(b"a") == (1,)
    assert cache.get_any(b"c") == (3,)


def test_key_depends_on_values_shape_and_dtype() -> None:
    batch = np.arange(4, dtype=np.float32).reshape(2, 2)

    assert cache_key(batch) == cache_key(batch.copy())
    assert cache_key(batch) != cache_key(batch.reshape(1, 4))
    assert cache_key(batch) != cache_key(batch.astype(np.float64))
    assert cache_key(batch) != cache_key(batch + 1)


def test_zero_ttl_is_rejected() -> None:
    with pytest.raises(ValueError, match="ttl must be positive"):
        PredictionCache(ttl=0, max_entries=1)
