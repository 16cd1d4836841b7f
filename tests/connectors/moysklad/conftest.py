"""Shared fixtures: a seeded MoySklad sandbox, clients on it (in-process ASGI), the verbatim samples."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any, TypeVar

import httpx
import pytest

from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from tests.shared_apis import SHARED_APIS, require

SAMPLES = SHARED_APIS / "moysklad-samples"
TOKEN = "sandbox-app-token"
BASE = "http://moysklad.sandbox" + API_PREFIX
#: a fixed day: user credentials weigh 3 units (2026-09-01 … 2026-11-30)
DAY = date(2026, 11, 22)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion (the tests are synchronous; the client is async)."""
    return asyncio.run(coro)


def sample(name: str) -> Any:
    """A verbatim (or RECONSTRUCTED) sample from ``tests/fixtures/apis/moysklad-samples``."""
    return json.loads(require(SAMPLES / name).read_text(encoding="utf-8"))


@pytest.fixture
def sandbox() -> MoySkladSandbox:
    """An app-token account with 120 products (≈144 assortment rows), 3 stores, 2 price types."""
    sb = MoySkladSandbox(token=TOKEN, token_kind="app", login="admin@shop", password="s3cret-pass", today=DAY)
    seed_catalog(sb, 120, seed=7)
    return sb


@pytest.fixture
def make_client(sandbox: MoySkladSandbox) -> Callable[..., MoySkladClient]:
    """Build clients talking to ``sandbox`` in-process (real HTTP semantics, no socket)."""

    def make(**kwargs: Any) -> MoySkladClient:
        kwargs.setdefault("token", TOKEN if "login" not in kwargs else None)
        kwargs.setdefault("token_kind", "app")
        kwargs.setdefault("today", DAY)
        return MoySkladClient(BASE, transport=httpx.ASGITransport(app=sandbox.app), **kwargs)

    return make


def raw_client(sandbox: MoySkladSandbox, **headers: str) -> httpx.AsyncClient:
    """A plain httpx client on the sandbox (for checking the sandbox's own rules)."""
    base_headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip"}
    base_headers.update(headers)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url=BASE, headers=base_headers)
