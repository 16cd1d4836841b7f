"""Shared fixtures: a sandbox account, clients on it (in-process ASGI), the verbatim samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox import RetailCRMSandbox
from tests.shared_apis import SHARED_APIS, require

SAMPLES = SHARED_APIS / "crm-samples"
KEY = "sandbox-key"
MakeClient = Callable[..., RetailCRMClient]


def sample(name: str) -> Any:
    """A verbatim (or reconstructed) sample from ``tests/fixtures/apis/crm-samples``; never an ASSUMED one."""
    assert "ASSUMED" not in name
    return json.loads(require(SAMPLES / name).read_text(encoding="utf-8"))


@pytest.fixture
def sandbox() -> RetailCRMSandbox:
    """A fresh account with one site ("main"), three stores and 40 offers."""
    sb = RetailCRMSandbox(api_key=KEY)
    sb.seed_catalog(40)
    return sb


@pytest.fixture
def make_client(sandbox: RetailCRMSandbox) -> Callable[..., RetailCRMClient]:
    """Build clients talking to ``sandbox`` in-process (real HTTP semantics, no socket)."""

    def make(api_key: str = KEY, **kwargs: Any) -> RetailCRMClient:
        transport = httpx.ASGITransport(app=sandbox.app)
        return RetailCRMClient("http://demo.retailcrm.test", api_key=api_key, transport=transport, **kwargs)

    return make
