"""Settings of the embedded default's demo: traffic for the bundled worker and one worker fault.

The simulated bill is the third piece of the demo; ``spend.embedded_bill.enabled``
turns it off. Production ignores this section.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from watchdog.config.sections import Section
from watchdog.config.types import Duration


class DemoSettings(Section):
    """The demo of the embedded default; ``spend.embedded_bill.enabled`` turns off its simulated bill.

    Production ignores this section.
    """

    traffic: bool = Field(
        True,
        description="Drive the bundled worker from one local client: a steady phase, a spike "
        "and a retry storm that raises the traffic_above_peak alert, then steady traffic "
        "until the daemon stops. Also sets alerts.rules.expected_peak_rps to the demo's "
        "peak of 20 requests per second.",
    )
    worker_fault: bool = Field(
        True,
        description="Crash the bundled worker once (SIGKILL) at fault_after, so that the "
        "supervisor restarts it and raises one worker_down alert.",
    )
    steady_for: Duration = Field(
        timedelta(seconds=30), description="Length of the first steady phase of demo traffic."
    )
    spike_for: Duration = Field(
        timedelta(seconds=30),
        description="Length of the spike phase; the rate rises to the expected peak in its "
        "middle fifth.",
    )
    storm_for: Duration = Field(
        timedelta(seconds=45),
        description="Length of the retry storm. The traffic rule needs 20 s above 120 % of the "
        "peak plus a 10-second window, so a storm shorter than about 40 s may raise no alert.",
    )
    fault_after: Duration = Field(
        timedelta(seconds=120),
        description="When the worker fault happens, counted from the first time the worker "
        "is ready.",
    )
