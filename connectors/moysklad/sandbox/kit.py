"""The MoySklad sandbox as the conformance suite takes it (:class:`connectors.sandboxing.kit.SandboxKit`)."""

from __future__ import annotations

from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox.app import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing.kit import SandboxKit

TOKEN = "conformance-token"
#: rows per page of the listing (MoySklad pages hold up to 1000; a small page makes several)
PAGE = 50


async def _all_products(client: MoySkladClient) -> int:
    return len(await client.collect("/entity/product", limit=PAGE))


def conformance_kit() -> SandboxKit:
    """An app-token account with 120 products (118 live: three pages of 50), their variants, stores and stock."""
    sandbox = MoySkladSandbox(token=TOKEN, token_kind="app")
    seed_catalog(sandbox, 120, seed=7)
    live = [p for p in sandbox.store.of_type("product").values() if not p.get("archived")]  # a listing's default
    return SandboxKit(
        sandbox=sandbox,
        settings={
            "system": "moysklad",
            "base_url": "{base_url}" + API_PREFIX,
            "token": "${CONFORMANCE_MS_TOKEN}",
            "token_kind": "app",
        },
        secrets={"CONFORMANCE_MS_TOKEN": TOKEN},
        wrong_secrets={"CONFORMANCE_MS_TOKEN": "not-the-token"},
        listing=_all_products,
        listing_rows=len(live),
        listing_path=API_PREFIX + "/entity/product",
        page_param="offset",
        page_size=PAGE,
    )
