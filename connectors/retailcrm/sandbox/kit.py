"""The retailCRM sandbox as the conformance suite takes it (:class:`connectors.sandboxing.kit.SandboxKit`)."""

from __future__ import annotations

from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox.app import RetailCRMSandbox
from connectors.retailcrm.wire.conventions import PAGE_LIMIT
from connectors.sandboxing.kit import SandboxKit

KEY = "conformance-key"


async def _all_offers(client: RetailCRMClient) -> int:
    return sum([len(page) async for page in client.iter_offers()])


def conformance_kit() -> SandboxKit:
    """One site with 250 offers (three pages of 100) and a few orders."""
    sandbox = RetailCRMSandbox(api_key=KEY)
    sandbox.seed_catalog(250)
    sandbox.seed_orders(5)
    return SandboxKit(
        sandbox=sandbox,
        settings={"system": "retailcrm", "base_url": "{base_url}", "api_key": "${CONFORMANCE_CRM_KEY}", "site": "main"},
        secrets={"CONFORMANCE_CRM_KEY": KEY},
        wrong_secrets={"CONFORMANCE_CRM_KEY": "not-the-key"},
        listing=_all_offers,
        listing_rows=len(sandbox.state.offers),
        listing_path="/api/v5/store/offers",
        page_param="page",
        page_size=PAGE_LIMIT,
    )
