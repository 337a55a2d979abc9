"""Retrying AWS calls on named error codes, and translating botocore errors.

botocore's own retries are turned off for the clients that use this module
(``max_attempts=1``), so that a call is retried only here: on throttling and
server error codes listed below, with full-jitter exponential backoff and a
WARNING line per retry. Everything else fails at once and is translated
into the project's exception tree by ``translate_aws_error``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)

from watchdog.errors import ExternalServiceError, PermanentServiceError, TransientServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Error codes AWS returns when a caller exceeds a request rate. CloudWatch
# returns "Throttling", and other services use the longer spellings.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)

# Error codes of a failure on the AWS side that a later attempt may not see.
SERVER_ERROR_CODES = frozenset(
    {"InternalFailure", "InternalServiceError", "InternalServiceFault", "ServiceUnavailable"}
)

RETRYABLE_CODES = THROTTLING_CODES | SERVER_ERROR_CODES


def error_code(exc: ClientError) -> str:
    """Return the AWS error code of ``exc``, such as ``Throttling``."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def backoff_delay(attempt: int, base: float, cap: float, uniform: Callable[[], float]) -> float:
    """Return the full-jitter delay before retry number ``attempt`` (1 for the first retry).

    ``uniform`` returns a number in [0, 1); the delay is that share of
    ``min(cap, base * 2 ** (attempt - 1))`` seconds.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return float(ceiling * uniform())


def call_with_retry(
    operation: str,
    call: Callable[[], T],
    *,
    attempts: int,
    base_delay: float = 0.2,
    max_delay: float = 2.0,
    retry_codes: frozenset[str] = RETRYABLE_CODES,
    sleep: Callable[[float], None] = time.sleep,
    uniform: Callable[[], float] = random.random,
) -> T:
    """Run ``call``; retry it on an AWS error whose code is in ``retry_codes``.

    At most ``attempts`` calls are made. The last error, or any error with
    another code, propagates unchanged for the caller to translate.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ClientError as exc:
            code = error_code(exc)
            if code not in retry_codes or attempt == attempts:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay, uniform)
            logger.warning(
                "%s returned %s on attempt %d of %d; retrying in %.2fs",
                operation,
                code,
                attempt,
                attempts,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def translate_aws_error(
    service: str, operation: str, exc: Exception, permanent_codes: frozenset[str] = frozenset()
) -> ExternalServiceError:
    """Translate a botocore error into the project's exception tree (the caller raises it).

    Codes in ``permanent_codes`` (such as a rejected parameter) become
    ``PermanentServiceError``; throttling, server errors, connection
    failures and timeouts become ``TransientServiceError``. Missing
    credentials and access errors are permanent: repeating the request
    cannot fix them, though the data behind it may still be worth keeping.
    """
    if isinstance(exc, ClientError):
        return _translate_client_error(service, operation, exc, permanent_codes)
    if isinstance(exc, NoCredentialsError):
        return PermanentServiceError(
            service, operation, "no AWS credentials found: attach an instance role or set a profile"
        )
    if isinstance(exc, BotocoreConnectionError):
        return TransientServiceError(service, operation, f"cannot reach the endpoint: {exc}")
    return TransientServiceError(service, operation, f"{type(exc).__name__}: {exc}")


def _translate_client_error(
    service: str, operation: str, exc: ClientError, permanent_codes: frozenset[str]
) -> ExternalServiceError:
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")) or "no message"
    detail = f"AWS returned {code}: {message}"
    if code in permanent_codes:
        return PermanentServiceError(service, operation, detail)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in RETRYABLE_CODES or (isinstance(status, int) and status >= 500):
        return TransientServiceError(service, operation, detail)
    return PermanentServiceError(
        service,
        operation,
        f"{detail}; check the IAM policy (deploy/iam-policy.json) and the region",
    )
