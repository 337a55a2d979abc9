"""The project's exception tree.

Lower-level errors (botocore, slack_sdk, httpx, onnxruntime, SQLAlchemy) are
translated into these at the adapter that calls the library, with the
original chained as ``__cause__``::

    WatchdogError
    ├── ConfigError              invalid or missing configuration (exit status 2)
    ├── StorageError             the SQLite store failed or its schema is not current
    ├── ExternalServiceError     an outside service failed
    │   ├── TransientServiceError    worth retrying: throttling, 5xx, timeouts
    │   └── PermanentServiceError    retrying cannot help: bad auth, unknown channel
    ├── InputError               bad input from a file, a scrape or a response
    └── WorkerError              the supervised worker could not be started or reached

Messages name the value, what was expected and what to do, and never carry
a secret.
"""

from __future__ import annotations


class WatchdogError(Exception):
    """Base class of every error the daemon raises on purpose."""


class ConfigError(WatchdogError):
    """A configuration value is invalid, or a required one is missing."""

    exit_status = 2


class StorageError(WatchdogError):
    """The database could not be opened, migrated, read or written."""


class ExternalServiceError(WatchdogError):
    """An outside service (AWS, Slack, the worker's HTTP endpoint) failed."""

    def __init__(self, service: str, operation: str, detail: str) -> None:
        self.service = service
        self.operation = operation
        self.detail = detail
        super().__init__(f"{service} {operation} failed: {detail}")


class TransientServiceError(ExternalServiceError):
    """A failure that a later attempt may not see: throttling, 5xx, a timeout.

    ``retry_after`` is the delay in seconds the service asked for, if any.
    """

    def __init__(
        self, service: str, operation: str, detail: str, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(service, operation, detail)


class PermanentServiceError(ExternalServiceError):
    """A failure that repeating the same request cannot fix."""


class InputError(WatchdogError):
    """Input from a file, a scrape or a response was rejected."""


class WorkerError(WatchdogError):
    """The supervised worker could not be started, stopped or reached."""
