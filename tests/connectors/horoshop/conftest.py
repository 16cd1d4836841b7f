"""Shared fixtures: a sandbox shop on a movable clock, clients on it (in-process ASGI), the samples."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.horoshop.client import HoroshopClient
from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.http import RateBudget, RetryPolicy, forget_budgets
from tests.shared_apis import SHARED_APIS, require

SAMPLES = SHARED_APIS / "crm-samples"
PASSWORD = "shop-password"
MakeClient = Callable[..., HoroshopClient]


def sample(name: str) -> Any:
    return json.loads(require(SAMPLES / name).read_text(encoding="utf-8"))


class Clock:
    """Seconds that tests move by hand (token lifetimes, the hourly window)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(clock: Clock) -> HoroshopSandbox:
    """A shop with 30 products, custom statuses and 12 orders; its tokens and quota on ``clock``."""
    sb = HoroshopSandbox(login="apiadmin", password=PASSWORD, clock=clock)
    sb.seed_catalog(30)
    sb.seed_statuses()
    sb.seed_orders(12)
    return sb


@pytest.fixture(autouse=True)
def _fresh_budgets() -> Iterator[None]:
    forget_budgets()
    yield
    forget_budgets()


@pytest.fixture
def make_client(shop: HoroshopSandbox, clock: Clock) -> MakeClient:
    """Clients of ``shop`` in-process (real HTTP semantics, no socket), on the same clock."""

    def make(password: str = PASSWORD, **kwargs: Any) -> HoroshopClient:
        kwargs.setdefault("retry", RetryPolicy(base_delay=0.01, max_delay=0.05))
        kwargs.setdefault("budget", RateBudget(capacity=10_000, window_seconds=3600, max_in_flight=2))
        return HoroshopClient(
            "http://shop.test",
            login="apiadmin",
            password=password,
            transport=httpx.ASGITransport(app=shop.app),
            clock=clock,
            **kwargs,
        )

    return make
