"""Fixtures of the spend tests: an isolated moto account and a spend component on the test store."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.spend.helpers import AccountAwsClients, ManualClock, QueueResults, RecordingSink
from watchdog.config import Settings
from watchdog.config.sections import AwsSettings
from watchdog.daemon import DaemonContext, SharedServices
from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY, EmbeddedAws
from watchdog.slack import SlackClients
from watchdog.spend.component import SpendComponent
from watchdog.spend.nowcast import InferenceCountSource
from watchdog.storage import Store


@pytest.fixture
def account_aws(moto_server: EmbeddedAws) -> AccountAwsClients:
    """Clients for a fresh moto account on the shared server."""
    settings = AwsSettings(endpoint_url=moto_server.endpoint_url, max_attempts=1)
    return AccountAwsClients(
        settings,
        access_key_id=EMBEDDED_ACCESS_KEY_ID,
        secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
        account_id=f"{secrets.randbelow(10**12):012d}",
    )


@pytest.fixture
def queue_cost_results(moto_server: EmbeddedAws, account_aws: AccountAwsClients) -> QueueResults:
    """Queue GetCostAndUsage responses in moto; each new request takes the next one."""

    def queue(results: list[dict[str, Any]]) -> None:
        response = httpx.post(
            f"{moto_server.endpoint_url}/moto-api/static/ce/cost-and-usage-results",
            json={"account_id": account_aws.account_id, "results": results},
            timeout=10,
        )
        assert response.status_code == 201

    return queue


ComponentFactory = Callable[..., SpendComponent]


@pytest.fixture
def make_component(
    store: Store, account_aws: AccountAwsClients, tmp_path: Path
) -> ComponentFactory:
    """Build and start a spend component on the test store; call again to simulate a restart."""

    def build(
        clock: ManualClock,
        sink: RecordingSink,
        inferences: InferenceCountSource | None = None,
        **spend: Any,
    ) -> SpendComponent:
        settings = Settings(state_dir=tmp_path, spend=spend)
        context = DaemonContext(
            settings=settings,
            store=store,
            state_dir=tmp_path,
            aws=account_aws,
            slack=SlackClients(settings.slack),
            embedded=None,
            services=SharedServices(
                alert_sink=sink, inference_counts=inferences, bill_clock=clock
            ),
        )
        component = SpendComponent(context)
        component.start()
        return component

    return build
