"""The CloudWatch adapter: one ``PutMetricData`` request per call, retried on throttling.

The boto3 client is built with botocore's retries off, so that a request
is retried only by ``call_with_retry`` on the listed throttling and server
error codes, with jitter, and a tick never waits through botocore's own
backoff for an endpoint that is down.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.aws_retry import call_with_retry, error_code, translate_aws_error
from watchdog.errors import PermanentServiceError
from watchdog.iam import requires_iam
from watchdog.metrics.datums import MetricDatum

logger = logging.getLogger(__name__)

# Codes with which CloudWatch rejects the data itself; sending it again cannot succeed.
# CloudWatch's JSON protocol reports the query-protocol codes, with or without the suffix.
REJECTED_CODES = frozenset(
    {
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidParameterCombination",
        "InvalidParameterCombinationException",
        "MissingParameter",
        "MissingRequiredParameterException",
        "ValidationError",
        "SerializationException",
    }
)


class MetricDataRejected(PermanentServiceError):
    """CloudWatch rejected the data points of a request; the request must not be repeated."""


class CloudWatchPublisher:
    """Sends metric data points to one CloudWatch namespace."""

    def __init__(
        self,
        client: Any,
        namespace: str,
        attempts: int,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self._attempts = attempts
        self._sleep = sleep
        self._uniform = uniform

    @requires_iam("cloudwatch:PutMetricData")
    def send_batch(self, datums: Sequence[MetricDatum]) -> int:
        """Send one request with ``datums`` and return how many attempts it took.

        The caller keeps the batch within CloudWatch's limits (see
        ``watchdog.metrics.limits``). Raises ``MetricDataRejected`` when
        CloudWatch rejects the data, and another ``ExternalServiceError``
        when it could not be reached, throttled every attempt, or refused
        the credentials.
        """
        items = [datum.to_request() for datum in datums]
        attempts = 0

        def put() -> None:
            nonlocal attempts
            attempts += 1
            self.client.put_metric_data(Namespace=self.namespace, MetricData=items)

        try:
            call_with_retry(
                "CloudWatch PutMetricData",
                put,
                attempts=self._attempts,
                sleep=self._sleep,
                uniform=self._uniform,
            )
        except ClientError as exc:
            error = translate_aws_error("CloudWatch", "PutMetricData", exc, REJECTED_CODES)
            if error_code(exc) in REJECTED_CODES:
                raise MetricDataRejected(error.service, error.operation, error.detail) from exc
            raise error from exc
        except BotoCoreError as exc:
            raise translate_aws_error("CloudWatch", "PutMetricData", exc) from exc
        return attempts
