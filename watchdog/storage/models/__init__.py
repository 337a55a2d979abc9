"""Every table of the store. Importing this package registers them all on ``Base.metadata``.

Each capability keeps its tables in its own module here and its own
migration under ``migrations/versions``.
"""

from watchdog.storage.models.alerts import (
    AlertCounter,
    AlertMonthlyCount,
    AlertStateRow,
    AlertTarget,
    OutboxMessage,
    Silence,
)
from watchdog.storage.models.base import Base
from watchdog.storage.models.daemon import DaemonRun, JobRun
from watchdog.storage.models.metrics import (
    MetricCounter,
    MetricRollup,
    MetricSpoolEntry,
    MetricState,
)
from watchdog.storage.models.reports import MonthlyReportRecord
from watchdog.storage.models.spend import (
    SpendApiRequests,
    SpendBaseline,
    SpendBaselineOverride,
    SpendDailyCost,
    SpendEstimatedCharge,
    SpendFiredThreshold,
    SpendSourceState,
)
from watchdog.storage.models.supervision import WorkerEvent, WorkerRestartRequest, WorkerStatus

__all__ = [
    "AlertCounter",
    "AlertMonthlyCount",
    "AlertStateRow",
    "AlertTarget",
    "Base",
    "DaemonRun",
    "JobRun",
    "MetricCounter",
    "MetricRollup",
    "MetricSpoolEntry",
    "MetricState",
    "MonthlyReportRecord",
    "OutboxMessage",
    "Silence",
    "SpendApiRequests",
    "SpendBaseline",
    "SpendBaselineOverride",
    "SpendDailyCost",
    "SpendEstimatedCharge",
    "SpendFiredThreshold",
    "SpendSourceState",
    "WorkerEvent",
    "WorkerRestartRequest",
    "WorkerStatus",
]
