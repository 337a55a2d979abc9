"""A stand-in worker process for memory tests, which keeps memory per simulated request.

Run as ``python fake_worker.py MEGABYTES``. It serves /metrics on 127.0.0.1
with the reference worker's gauge names, prints its port, and then reads
commands from stdin, answering ``ok`` to each:

- ``load N``: N requests in flight, each holding its own MEGABYTES copy
  (a worker that loads its model on every request);
- ``share N``: N requests in flight that share the resident copy;
- ``idle``: nothing in flight, per-request copies freed.
"""

from __future__ import annotations

import sys

from prometheus_client import CollectorRegistry, Gauge, start_http_server


def main() -> None:
    size = int(sys.argv[1]) * 1024 * 1024
    registry = CollectorRegistry()
    in_flight = Gauge("inference_in_flight", "Running requests.", registry=registry)
    Gauge("inference_queue_depth", "Queued requests.", registry=registry).set(0)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)

    # The resident model, touched page by page so that it counts in RSS.
    model = bytearray(b"\x01" * size)
    # Per-request copies; the list keeps them resident until the next command.
    copies: list[bytearray] = []
    print(server.server_port, flush=True)

    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        copies.clear()
        if command == "load":
            copies.extend(bytearray(b"\x01" * size) for _ in range(int(argument)))
            in_flight.set(int(argument))
        elif command == "share":
            in_flight.set(int(argument))
        elif command == "idle":
            in_flight.set(0)
        print("ok", len(model), len(copies), flush=True)


if __name__ == "__main__":
    main()
