"""Settings of worker supervision: how the worker is run, checked, restarted and kept in budget."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from watchdog.config.sections import Section
from watchdog.config.types import ByteSize, Duration


class HealthSettings(Section):
    """Readiness and liveness checks against the worker's health URL."""

    startup_timeout: Duration = Field(
        timedelta(seconds=60),
        description="How long a new worker may take to return 200 on its health URL (model "
        "load included) before it is stopped and counted as a failed start.",
    )
    interval: Duration = Field(
        timedelta(seconds=5), description="Time between liveness checks of a ready worker."
    )
    timeout: Duration = Field(timedelta(seconds=2), description="Timeout of one health request.")
    failures: int = Field(
        3,
        ge=1,
        le=100,
        description="Consecutive failed liveness checks that mean the worker hangs; it is then restarted.",
    )


class RestartSettings(Section):
    """Exponential backoff between restarts, and crash-loop detection."""

    backoff_initial: Duration = Field(
        timedelta(milliseconds=200),
        description="Delay before the first restart after a failure.",
    )
    backoff_max: Duration = Field(
        timedelta(seconds=60), description="Upper bound of the delay between restarts."
    )
    backoff_multiplier: float = Field(
        2.0, ge=1.0, le=10.0, description="Factor by which each consecutive restart delay grows."
    )
    jitter: float = Field(
        0.2,
        ge=0.0,
        lt=1.0,
        description="Random spread of each delay, as a fraction: 0.2 draws from 80 % to 120 %.",
    )
    stable_after: Duration = Field(
        timedelta(seconds=60),
        description="A worker that stays ready this long counts as stable: the backoff starts "
        "again from backoff_initial.",
    )
    crash_loop_restarts: int = Field(
        5,
        ge=2,
        le=1000,
        description="Failures within crash_loop_window that make a crash loop. The failure "
        "that reaches this count starts the cool-off instead of a restart, and raises one "
        "critical alert.",
    )
    crash_loop_window: Duration = Field(
        timedelta(minutes=5), description="Window in which failures are counted."
    )
    crash_loop_cooloff: Duration = Field(
        timedelta(minutes=10),
        description="How long restarts stop after a crash loop; 'inference-watchdog worker "
        "restart' ends the cool-off early.",
    )

    @model_validator(mode="after")
    def _backoff_bounds(self) -> RestartSettings:
        if self.backoff_max < self.backoff_initial:
            raise ValueError(
                f"backoff_max {self.backoff_max} is below backoff_initial "
                f"{self.backoff_initial}: raise backoff_max"
            )
        return self


class MemorySettings(Section):
    """The worker's memory budget and its child memory cgroup."""

    limit: ByteSize | None = Field(
        None,
        description="Hard memory limit of the worker, such as '2GiB'. Unset (and no "
        "limit_share) means no budget: memory is read for status and exit reports only.",
    )
    limit_share: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Hard limit as a share of the memory limit of the daemon's own cgroup "
        "(memory.max, or memory.limit_in_bytes on cgroup v1); used when limit is unset.",
    )
    soft_limit_ratio: float = Field(
        0.85,
        gt=0.0,
        le=1.0,
        description="Soft limit as a share of the hard limit. Memory above it for 'samples' "
        "consecutive readings raises an alert and restarts the worker gracefully.",
    )
    samples: int = Field(
        3, ge=1, le=100, description="Consecutive readings above the soft limit before a restart."
    )
    interval: Duration = Field(
        timedelta(seconds=1), description="Time between memory readings of the worker."
    )
    cgroup: Literal["auto", "off"] = Field(
        "auto",
        description="'auto' runs the worker in a child memory cgroup with the hard limit as "
        "its memory limit, where the daemon may create one (as root, or with Delegate=yes "
        "under systemd); 'off' never creates one.",
    )
    cgroup_parent: Path | None = Field(
        None,
        description="Cgroup directory under which the worker's cgroup is created; defaults to "
        "the daemon's own memory cgroup.",
    )
    cgroup_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Directory name of the worker's cgroup. Unset means "
        "'inference-watchdog-worker-' and the first 8 hex digits of the SHA-256 of the state "
        "directory's path, so daemons with different state directories in one cgroup never "
        "share a worker cgroup or kill each other's workers as leftovers.",
    )

    @model_validator(mode="after")
    def _one_limit(self) -> MemorySettings:
        if self.limit is not None and self.limit_share is not None:
            raise ValueError("set either limit or limit_share, not both")
        return self


class SupervisionSettings(Section):
    """Supervision of the inference worker: spawn or attach mode, its address and commands."""

    mode: Literal["spawn", "attach", "off"] = Field(
        "spawn",
        description="'spawn' starts the worker as a child and restarts it; 'attach' watches a "
        "worker started elsewhere (health and metrics only); 'off' does neither.",
    )
    command: list[str] | None = Field(
        None,
        min_length=1,
        description="Worker command line, one argument per item. '{port}' in an argument is "
        "replaced by the worker's port. Unset runs the bundled reference worker.",
    )
    working_directory: Path | None = Field(
        None, description="Working directory of the worker; unset keeps the daemon's."
    )
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Variables added to the worker's environment. The systemd variables "
        "NOTIFY_SOCKET, WATCHDOG_* and CREDENTIALS_DIRECTORY are never passed on.",
    )
    port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port the worker listens on; 0 picks a free port on 127.0.0.1 at each start.",
    )
    health_url: str | None = Field(
        None,
        description="Health URL; '{port}' is replaced by the port. Defaults to "
        "http://127.0.0.1:{port}/healthz.",
    )
    metrics_url: str | None = Field(
        None,
        description="Prometheus metrics URL; '{port}' is replaced by the port. Defaults to "
        "http://127.0.0.1:{port}/metrics.",
    )
    pid_file: Path | None = Field(None, description="Attach mode: file holding the worker's process id.")
    systemd_unit: str | None = Field(
        None,
        description="Attach mode: systemd unit whose main process is the worker.",
    )
    tick_interval: Duration = Field(
        timedelta(milliseconds=250),
        description="How often the supervision job runs: it polls the process, starts "
        "restarts that are due and runs the checks whose interval has passed.",
    )
    stop_timeout: Duration = Field(
        timedelta(seconds=10),
        description="Grace period between SIGTERM and SIGKILL when the worker is stopped.",
    )
    health: HealthSettings = Field(default_factory=HealthSettings)
    restart: RestartSettings = Field(default_factory=RestartSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)

    @model_validator(mode="after")
    def _attach_needs_url(self) -> SupervisionSettings:
        if self.mode == "attach" and self.port == 0 and self.health_url is None:
            raise ValueError(
                "attach mode needs the worker's address: set supervision.port or supervision.health_url"
            )
        return self

    def resolve_url(self, template: str | None, default_path: str, port: int) -> str:
        """Return ``template`` (or the default 127.0.0.1 URL) with ``{port}`` filled in."""
        if template is None:
            return f"http://127.0.0.1:{port}{default_path}"
        return template.replace("{port}", str(port))
