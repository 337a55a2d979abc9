"""The prediction cache: identical inputs within the TTL get the stored predictions without inference.

Expired entries stay until the size bound pushes them out, because when
inference fails the worker returns the last known predictions, marked stale,
rather than an error. The cache is used from the event loop only, so it
takes no lock.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class CacheEntry:
    """Stored predictions and when they were stored (by the cache's clock)."""

    predictions: tuple[int, ...]
    stored_at: float


def cache_key(batch: npt.NDArray[np.floating[Any]]) -> bytes:
    """Return a digest of the batch's dtype, shape and values."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{batch.dtype.str}{batch.shape}".encode())
    digest.update(np.ascontiguousarray(batch).tobytes())
    return digest.digest()


class PredictionCache:
    """Up to ``max_entries`` predictions, fresh for ``ttl`` seconds, least recently used dropped first."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError(f"ttl must be positive and max_entries at least 1, got {ttl} and {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, CacheEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get_fresh(self, key: bytes) -> tuple[int, ...] | None:
        """Return the predictions stored under ``key`` if they are younger than the TTL."""
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry.stored_at >= self.ttl:
            return None
        self._entries.move_to_end(key)
        return entry.predictions

    def get_any(self, key: bytes) -> tuple[int, ...] | None:
        """Return the predictions stored under ``key`` however old, for a stale response."""
        entry = self._entries.get(key)
        return entry.predictions if entry is not None else None

    def put(self, key: bytes, predictions: list[int]) -> None:
        """Store ``predictions`` under ``key``, dropping the least recently used beyond the bound."""
        self._entries[key] = CacheEntry(tuple(predictions), self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
