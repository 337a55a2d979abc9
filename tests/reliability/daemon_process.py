"""A daemon process wired like the embedded default, but with the stand-ins outside it.

``inference-watchdog run`` on its embedded default starts moto's server and
the Slack double inside the daemon, so a SIGKILL takes CloudWatch's data
and Slack's record with it. This module runs the same ``Daemon`` with the
same simulated bill, pointed at a moto server and a Slack double that the
test process owns, so they outlive every kill:

    python -m tests.reliability.daemon_process STATE_DIR AWS_URL SLACK_URL SECONDS_PER_DAY NAMESPACE
"""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from watchdog.config import load_settings
from watchdog.config.spend import EmbeddedBillSettings
from watchdog.daemon import Daemon, SharedServices
from watchdog.embedded import EMBEDDED_SLACK_TOKEN, billing_route
from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY
from watchdog.embedded.bill import BillAwsClients, EmbeddedBill, fixed_daily_cost
from watchdog.logs import configure_logging

logger = logging.getLogger(__name__)

# Group timers live in memory, so each restart waits group_wait again. These timings let a
# daemon that lives a few seconds send messages, and kills then land around deliveries too.
BILLING_TIMING = {"group_wait": "0s", "group_interval": "2s"}
FLOOD_GUARD_BUDGET = 1000
# A killed sender's claim expires after this; the default of two minutes outlasts the test.
CLAIM_TIMEOUT = "3s"


def main(argv: list[str]) -> None:
    state_dir = Path(argv[0])
    aws_endpoint, slack_endpoint, seconds_per_day = argv[1], argv[2], float(argv[3])
    namespace = argv[4]
    configure_logging("INFO")

    credentials = (EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY)
    bill = EmbeddedBill(
        aws_endpoint,
        state_dir,
        EmbeddedBillSettings(seconds_per_day=seconds_per_day),
        credentials,
        # moto outlives this process and caches Cost Explorer responses per account.
        cost_account_id=f"{secrets.randbelow(10**12):012d}",
    )
    bill.start()
    loaded = load_settings(
        None,
        {
            "mode": "production",
            "state_dir": state_dir,
            "aws": {"endpoint_url": aws_endpoint, "namespace": namespace},
            "slack": {"base_url": slack_endpoint, "bot_token": EMBEDDED_SLACK_TOKEN},
            "spend": {
                "fixed_daily_cost": str(fixed_daily_cost()),
                "embedded_bill": {"seconds_per_day": seconds_per_day},
            },
            "alerts": {
                "routes": [{**billing_route(seconds_per_day), **BILLING_TIMING}],
                "delivery": {"claim_timeout": CLAIM_TIMEOUT},
                # With messages every few seconds the default budget of 20 per 10 minutes
                # would fold later alerts into a digest sent when the window closes.
                "flood_guard": {"budget": FLOOD_GUARD_BUDGET},
            },
        },
    )
    aws = BillAwsClients(
        loaded.settings.aws,
        access_key_id=credentials[0],
        secret_access_key=credentials[1],
        bill=bill,
    )
    services = SharedServices(bill_clock=bill.clock, inference_counts=bill)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    daemon = Daemon(loaded, aws=aws, services=services)
    daemon.start()
    try:
        daemon.run(stop)
    finally:
        daemon.stop()
        bill.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
