"""A keyCRM sandbox account reached in-process, and a client over it."""

from __future__ import annotations

import httpx
import pytest

from connectors.http import RateBudget, RetryPolicy
from connectors.keycrm.client import KeyCRMClient
from connectors.keycrm.sandbox import KeyCRMSandbox

KEY = "test-keycrm-key"


@pytest.fixture
def sandbox() -> KeyCRMSandbox:
    sb = KeyCRMSandbox(api_key=KEY)
    sb.seed_catalog(60)
    sb.state.apply_delay = 0.05
    return sb


def client_of(sandbox: KeyCRMSandbox, budget: RateBudget | None = None, key: str = KEY) -> KeyCRMClient:
    return KeyCRMClient(
        "http://keycrm.test/v1",
        api_key=key,
        transport=httpx.ASGITransport(app=sandbox.app),
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05),
        budget=budget,
    )
