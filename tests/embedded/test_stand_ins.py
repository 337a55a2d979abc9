"""The embedded stand-ins: loopback only, and reachable through the real client libraries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watchdog.aws import AwsClients
from watchdog.embedded import EmbeddedEnvironment
from watchdog.embedded.aws import EmbeddedAws
from watchdog.embedded.slack_double import SlackDouble


def listening_addresses(port: int) -> set[str]:
    """Return the local IPs this process listens on at ``port``."""
    return {
        conn.laddr.ip
        for conn in psutil.Process(os.getpid()).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
    }


def test_moto_server_listens_on_loopback_only(moto_server: EmbeddedAws) -> None:
    host, port = moto_server.address

    assert host == "127.0.0.1"
    assert listening_addresses(port) == {"127.0.0.1"}


def test_slack_double_listens_on_loopback_only(slack_double: SlackDouble) -> None:
    host, port = slack_double.address

    assert host == "127.0.0.1"
    assert listening_addresses(port) == {"127.0.0.1"}


def test_embedded_environment_binds_loopback(tmp_path: Path) -> None:
    environment = EmbeddedEnvironment(tmp_path)
    endpoints = environment.start()
    try:
        aws_port = environment.aws.address[1]
        slack_port = environment.slack.address[1]

        assert endpoints.aws_endpoint == f"http://127.0.0.1:{aws_port}"
        assert endpoints.slack_endpoint == f"http://127.0.0.1:{slack_port}/api/"
        assert listening_addresses(aws_port) == {"127.0.0.1"}
        assert listening_addresses(slack_port) == {"127.0.0.1"}
    finally:
        environment.stop()


def test_slack_double_answers_slack_sdk(slack_double: SlackDouble) -> None:
    client = WebClient(token="xoxb-test-token-123", base_url=slack_double.base_url)

    auth = client.auth_test()
    posted = client.chat_postMessage(channel="#alerts", text="worker restarted")

    assert auth["ok"] is True
    assert auth["team"] == "Embedded"
    assert posted["ok"] is True
    assert posted["channel"].startswith("C")
    assert slack_double.messages() == [{"channel": "#alerts", "text": "worker restarted"}]


def test_slack_double_logs_requests_without_token(slack_double: SlackDouble) -> None:
    client = WebClient(token="xoxb-never-logged-42", base_url=slack_double.base_url)
    client.chat_postMessage(channel="#alerts", text="hello")

    assert slack_double.log_path is not None
    raw = slack_double.log_path.read_text()
    entries = [json.loads(line) for line in raw.splitlines()]

    assert [e["method"] for e in entries] == ["chat.postMessage"]
    assert entries[0]["body"] == {"channel": "#alerts", "text": "hello"}
    assert "xoxb-never-logged-42" not in raw


def test_slack_double_rejects_missing_token(slack_double: SlackDouble) -> None:
    client = WebClient(base_url=slack_double.base_url)

    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.postMessage", json={"channel": "#a", "text": "x"})

    assert caught.value.response["error"] == "not_authed"


def test_aws_clients_reach_moto(aws_clients: AwsClients) -> None:
    cloudwatch = aws_clients.client("cloudwatch")

    cloudwatch.put_metric_data(
        Namespace="StandInTest", MetricData=[{"MetricName": "Probe", "Value": 1.0, "Unit": "Count"}]
    )
    names = [m["MetricName"] for m in cloudwatch.list_metrics(Namespace="StandInTest")["Metrics"]]

    assert names == ["Probe"]
