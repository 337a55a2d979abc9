"""Reading the daemon's heartbeat back from moto's CloudWatch, one 10-second bucket at a time."""

from __future__ import annotations

import socket
from datetime import datetime

import boto3

from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY, EmbeddedAws


def heartbeat_counts(
    aws: EmbeddedAws, namespace: str, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Return the WatchdogHeartbeat sample count of each 10-second window in ``[start, end)``."""
    cloudwatch = boto3.session.Session().client(
        "cloudwatch",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=EMBEDDED_ACCESS_KEY_ID,
        aws_secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
    )
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="WatchdogHeartbeat",
        Dimensions=[
            {"Name": "Service", "Value": "inference"},
            {"Name": "Host", "Value": socket.gethostname()},
        ],
        StartTime=start,
        EndTime=end,
        Period=10,
        Statistics=["SampleCount"],
    )
    return {point["Timestamp"]: int(point["SampleCount"]) for point in response["Datapoints"]}
