"""The route table of the emulated API (paths under ``/api/v5``) and its ``site`` rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import connectors.retailcrm.sandbox.catalog as catalog
import connectors.retailcrm.sandbox.custom_fields as custom_fields
import connectors.retailcrm.sandbox.customers as customers
import connectors.retailcrm.sandbox.history as history
import connectors.retailcrm.sandbox.orders as orders
import connectors.retailcrm.sandbox.users as users
from connectors.retailcrm.sandbox.state import CrmState
from connectors.retailcrm.sandbox.wire import ApiError, Call, site_refusal
from connectors.sandboxing import RouteTable

Handler = Callable[[CrmState, Call], tuple[int, dict[str, Any]]]

# method, path under /api/v5, handler, whether it writes
ROUTES: RouteTable[Handler] = RouteTable(
    [
        (
            "GET",
            r"/reference/(statuses|stores|sites|delivery-types|payment-types|payment-statuses|price-types)",
            catalog.reference,
            False,
        ),
        ("POST", r"/reference/sites/([^/]+)/edit", catalog.site_edit, True),
        ("GET", r"/store/offers", catalog.store_offers, False),
        ("GET", r"/store/products", catalog.store_products, False),
        ("GET", r"/store/inventories", catalog.store_inventories, False),
        ("POST", r"/store/inventories/upload", catalog.inventories_upload, True),
        ("POST", r"/store/prices/upload", catalog.prices_upload, True),
        ("GET", r"/orders", orders.orders_list, False),
        ("GET", r"/orders/history", lambda s, c: history.history_page(s, c, "orders", "order"), False),
        ("GET", r"/orders/statuses", orders.order_statuses, False),
        ("POST", r"/orders/create", orders.orders_create, True),
        ("POST", r"/orders/upload", orders.orders_upload, True),
        ("POST", r"/orders/fix-external-ids", orders.fix_external_ids, True),
        ("POST", r"/orders/payments/create", orders.payment_create, True),
        ("POST", r"/orders/payments/([^/]+)/edit", orders.payment_edit, True),
        ("GET", r"/orders/([^/]+)", orders.orders_get, False),
        ("POST", r"/orders/([^/]+)/edit", orders.orders_edit, True),
        ("GET", r"/custom-fields", custom_fields.fields_list, False),
        ("GET", r"/custom-fields/dictionaries", custom_fields.dictionaries_list, False),
        ("GET", r"/users", users.users_list, False),
        ("GET", r"/users/([^/]+)", users.users_get, False),
        ("GET", r"/customers", customers.customers_list, False),
        ("GET", r"/customers/history", lambda s, c: history.history_page(s, c, "customers", "customer"), False),
        ("POST", r"/customers/create", customers.customers_create, True),
        ("GET", r"/customers/([^/]+)", customers.customers_get, False),
        ("POST", r"/customers/([^/]+)/edit", customers.customers_edit, True),
    ]
)
#: methods that need ``site`` when the key covers several stores
NEEDS_SITE: frozenset[Handler] = frozenset({orders.orders_create, orders.orders_upload, customers.customers_create})


def call_site(
    handler: Handler, requested: str | None, key_sites: tuple[str, ...], account: Mapping[str, Any]
) -> str | None:
    """The site a call acts on: the ``site`` parameter, else the key's only site.

    Raises:
        ApiError: a ``site`` that is not the account's (400) or not the key's (403), or none given
            to a method that needs one while the key covers several stores (400).
    """
    if handler is catalog.site_edit:
        requested = None  # reference/sites/{code}/edit carries the site *object* in "site", not a code
    if requested is not None and requested not in key_sites:
        raise site_refusal(requested, account)
    if requested is None and len(key_sites) == 1:
        return key_sites[0]
    if requested is None and handler in NEEDS_SITE:
        raise ApiError(400, "Parameter 'site' is missing")
    return requested
