"""``python -m watchdog.worker ARGS`` runs ``inference-watchdog worker ARGS``.

The supervisor starts the worker this way, with the daemon's own
interpreter. The top-level ``--config`` and ``--log-level`` options are not
available here; the default config file and the ``INFERENCE_WATCHDOG_``
environment variables still apply.
"""

from __future__ import annotations

from watchdog.cli.common import CliState
from watchdog.cli.worker import worker

if __name__ == "__main__":
    worker.main(prog_name="python -m watchdog.worker", obj=CliState())
