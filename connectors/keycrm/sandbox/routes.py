"""The route table of the emulated API (paths under ``/v1``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import connectors.keycrm.sandbox.offers as offers
import connectors.keycrm.sandbox.orders as orders
from connectors.keycrm.sandbox.state import KeyState
from connectors.keycrm.sandbox.wire import Call
from connectors.sandboxing import RouteTable

Handler = Callable[[KeyState, Call], tuple[int, Any]]

# method, path under /v1, handler, whether it writes
ROUTES: RouteTable[Handler] = RouteTable(
    [
        ("GET", r"/order/status", orders.dictionary("statuses"), False),
        ("GET", r"/order/source", orders.dictionary("sources"), False),
        ("GET", r"/order/payment-method", orders.dictionary("payment_methods"), False),
        ("GET", r"/order", orders.list_orders, False),
        ("GET", r"/order/(\d+)", orders.get_order, False),
        ("PUT", r"/order/(\d+)", orders.put_order, True),
        ("POST", r"/order/(\d+)/payment", orders.add_payment, True),
        ("PUT", r"/order/(\d+)/payment/(\d+)", orders.put_payment, True),
        ("GET", r"/offers", offers.list_offers, False),
        ("GET", r"/offers/stocks", offers.list_stocks, False),
        ("PUT", r"/offers/stocks", offers.put_stocks, True),
    ]
)
