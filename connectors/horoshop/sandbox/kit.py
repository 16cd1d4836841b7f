"""The Horoshop sandbox as the conformance suite takes it (:class:`connectors.sandboxing.kit.SandboxKit`)."""

from __future__ import annotations

from connectors.horoshop.client import HoroshopClient
from connectors.horoshop.sandbox.app import HoroshopSandbox
from connectors.horoshop.wire.limits import CATALOG_PAGE
from connectors.sandboxing.kit import SandboxKit

PASSWORD = "conformance-password"


async def _all_products(client: HoroshopClient) -> int:
    return sum([len(page) async for page in client.iter_catalog()])


def sandbox_shop(products: int = 1000, *, password: str | None = None, orders: int = 50) -> HoroshopSandbox:
    """A shop as ``skladbridge sandbox serve horoshop`` serves it: a catalog, custom statuses, orders."""
    sandbox = HoroshopSandbox(login="apiadmin", password=password or "sandbox-password")
    sandbox.seed_catalog(products)
    sandbox.seed_statuses()
    sandbox.seed_orders(orders)
    return sandbox


def conformance_kit() -> SandboxKit:
    """A shop with 1 200 products (three pages of 500), custom statuses and 20 orders."""
    sandbox = HoroshopSandbox(login="apiadmin", password=PASSWORD)
    sandbox.seed_catalog(1200)
    sandbox.seed_statuses()
    sandbox.seed_orders(20)
    return SandboxKit(
        sandbox=sandbox,
        settings={
            "system": "horoshop",
            "base_url": "{base_url}",
            "login": "apiadmin",
            "password": "${CONFORMANCE_HOROSHOP_PASSWORD}",
        },
        secrets={"CONFORMANCE_HOROSHOP_PASSWORD": PASSWORD},
        wrong_secrets={"CONFORMANCE_HOROSHOP_PASSWORD": "not-the-password"},
        listing=_all_products,
        listing_rows=len(sandbox.state.products),
        listing_path="/api/catalog/export",
        page_param="offset",
        page_size=CATALOG_PAGE,
    )
