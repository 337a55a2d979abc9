"""Fault modes that make the worker misbehave on purpose, for tests and demos. All are off by default.

- ``load-per-request``: create a new ``InferenceSession`` for every batch, on
  as many threads as ``worker.load_per_request_threads`` (the classic
  production mistake: memory and latency grow with concurrency).
- ``leak``: keep ``leak_bytes`` of written memory per /predict request.
- ``hang``: after ``hang_after`` /predict requests, stop responding to
  /healthz and /predict (the process stays up and /metrics still responds).
- ``crash-after``: exit with status 1 right after responding to the
  ``crash_after``-th /predict request.
- ``slow``: sleep ``slow_ms`` milliseconds in the inference thread before
  each batch.
"""

from __future__ import annotations

from dataclasses import dataclass

FAULT_MODES = ("load-per-request", "leak", "hang", "crash-after", "slow")

DEFAULT_LEAK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FaultConfig:
    """The fault modes that are on, with their parameters; all off by default."""

    load_per_request: bool = False
    leak_bytes: int | None = None
    hang_after: int | None = None
    crash_after: int | None = None
    slow_ms: float | None = None

    @property
    def active(self) -> list[str]:
        """The names of the faults that are on, as ``--fault`` spells them."""
        names = []
        if self.load_per_request:
            names.append("load-per-request")
        if self.leak_bytes is not None:
            names.append("leak")
        if self.hang_after is not None:
            names.append("hang")
        if self.crash_after is not None:
            names.append("crash-after")
        if self.slow_ms is not None:
            names.append("slow")
        return names

    def is_hung(self, received: int) -> bool:
        """Return whether the worker hangs once ``received`` /predict requests have arrived."""
        return self.hang_after is not None and received >= self.hang_after

    def should_crash(self, predict_requests: int) -> bool:
        """Return whether the worker exits after responding to request ``predict_requests``."""
        return self.crash_after is not None and predict_requests >= self.crash_after


def build_fault_config(
    modes: tuple[str, ...] | list[str],
    leak_bytes: int | None = None,
    hang_after: int | None = None,
    crash_after: int | None = None,
    slow_ms: float | None = None,
) -> FaultConfig:
    """Combine ``--fault`` names with their parameters; raise ``ValueError`` on a mismatch.

    A parameter given without its mode turns the mode on (``--slow-ms 50``
    alone means ``--fault slow --slow-ms 50``). ``crash-after`` and ``slow``
    have no default parameter; ``leak`` defaults to 1 MiB per request and
    ``hang`` to hanging from the first request.
    """
    unknown = sorted(set(modes) - set(FAULT_MODES))
    if unknown:
        raise ValueError(f"unknown fault mode {unknown[0]!r}; expected one of {', '.join(FAULT_MODES)}")
    selected = set(modes)
    parameters = {"leak": leak_bytes, "hang": hang_after, "crash-after": crash_after, "slow": slow_ms}
    for mode, value in parameters.items():
        if value is not None:
            selected.add(mode)
    if "crash-after" in selected and crash_after is None:
        raise ValueError("fault mode 'crash-after' needs --crash-after N (requests before exiting)")
    if "slow" in selected and slow_ms is None:
        raise ValueError("fault mode 'slow' needs --slow-ms MS (added to every inference)")
    if "leak" in selected and leak_bytes is None:
        leak_bytes = DEFAULT_LEAK_BYTES
    if "hang" in selected and hang_after is None:
        hang_after = 0
    return FaultConfig(
        load_per_request="load-per-request" in selected,
        leak_bytes=leak_bytes,
        hang_after=hang_after,
        crash_after=crash_after,
        slow_ms=slow_ms,
    )


class MemoryLeak:
    """Memory kept forever on purpose, in written (resident) pages."""

    def __init__(self) -> None:
        self._blocks: list[bytes] = []

    def grow(self, size: int) -> None:
        """Keep ``size`` more bytes; every page is written so it counts in the RSS."""
        # bytes(size) would come from calloc and stay unbacked until touched; a
        # repeated non-zero byte forces the kernel to back every page.
        self._blocks.append(b"\xa5" * size)

    @property
    def size(self) -> int:
        """The bytes leaked so far."""
        return sum(len(block) for block in self._blocks)
