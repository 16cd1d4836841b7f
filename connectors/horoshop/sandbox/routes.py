"""The functions the emulated shop serves (paths under ``/api``), by concern."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import connectors.horoshop.sandbox.catalog as catalog
import connectors.horoshop.sandbox.orders as orders
from connectors.horoshop.sandbox.state import ShopState
from connectors.sandboxing import RouteTable

Handler = Callable[[ShopState, Mapping[str, Any]], dict[str, Any]]

# method, function path, handler, whether it writes
ROUTES: RouteTable[Handler] = RouteTable(
    [
        ("POST", r"/orders/get", orders.orders_get, False),
        ("POST", r"/orders/get_available_statuses", orders.available_statuses, False),
        ("POST", r"/orders/update", orders.orders_update, True),
        ("POST", r"/catalog/export", catalog.catalog_export, False),
        ("POST", r"/pages/export", catalog.pages_export, False),
        ("POST", r"/delivery/export", catalog.delivery_export, False),
        ("POST", r"/payment/export", catalog.payment_export, False),
        ("POST", r"/currency/export", catalog.currency_export, False),
    ]
)
