"""A token bucket per client address.

Each client's bucket contains up to ``burst`` tokens and refills at ``rate``
tokens per second; a request takes one token. With no token left the
response is 429, and ``Retry-After`` gives the seconds until the next token. The
limiter is called from the event loop only, so it takes no lock.

NOTE: the client address is the TCP peer. Behind a reverse proxy every
client shares the proxy's bucket, because ``X-Forwarded-For`` is not trusted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_TOLERANCE = 1e-9


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Per-key token buckets; the least recently seen keys are forgotten beyond ``max_clients``."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be positive and burst at least 1, got {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, key: str) -> float | None:
        """Take a token for ``key``; return None when allowed, else the seconds until a token."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
            self._buckets[key] = bucket
            # A forgotten client comes back with a full bucket: at worst one extra burst.
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now

        # The tolerance absorbs float rounding in the refill, such as 0.999999999999.
        if bucket.tokens >= 1.0 - _TOLERANCE:
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
            return None
        return (1.0 - bucket.tokens) / self.rate
