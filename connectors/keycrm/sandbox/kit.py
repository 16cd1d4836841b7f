"""The keyCRM sandbox as the conformance suite takes it (:class:`connectors.sandboxing.kit.SandboxKit`)."""

from __future__ import annotations

from connectors.keycrm.client import KeyCRMClient
from connectors.keycrm.sandbox.app import KeyCRMSandbox
from connectors.keycrm.wire.conventions import PAGE_LIMIT
from connectors.sandboxing.kit import SandboxKit

KEY = "conformance-keycrm-key"


async def _all_offers(client: KeyCRMClient) -> int:
    return sum([len(page) async for page in client.offer_pages()])


def conformance_kit() -> SandboxKit:
    """120 offers (three pages of 50), a few orders, two warehouses mapped."""
    sandbox = KeyCRMSandbox(api_key=KEY)
    sandbox.seed_catalog(120)
    sandbox.seed_orders(5)
    return SandboxKit(
        sandbox=sandbox,
        settings={
            "system": "keycrm",
            "base_url": "{base_url}/v1",
            "api_key": "${CONFORMANCE_KEYCRM_KEY}",
            "warehouses": {"main": 1, "kyiv": 2},
        },
        secrets={"CONFORMANCE_KEYCRM_KEY": KEY},
        wrong_secrets={"CONFORMANCE_KEYCRM_KEY": "not-the-key"},
        listing=_all_offers,
        listing_rows=len(sandbox.state.offers),
        listing_path="/v1/offers",
        page_param="page",
        page_size=PAGE_LIMIT,
    )
