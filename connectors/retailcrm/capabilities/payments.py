"""retailCRM order payments as the hub's ``PaymentSink``: a payment changed in the ERP comes back.

One ``orders/payments/{id}/edit?by=id`` a payment (v5 has no batch edit), within the key's 10
requests/s; status and amount are absolute values, so a repeated edit is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal

from connectors.http import NotFoundError, RequestValidationError
from connectors.retailcrm.capabilities.orders import EDITS_IN_FLIGHT, RetailCRMOrders
from hub.capabilities import PaymentChange


class RetailCRMPayments(RetailCRMOrders):
    """``PaymentSink`` over one retailCRM account."""

    async def set_payments(self, changes: Mapping[str, PaymentChange]) -> dict[str, str]:
        refused: dict[str, str] = {}
        gate = asyncio.Semaphore(EDITS_IN_FLIGHT)

        async def edit(payment_id: str, change: PaymentChange) -> None:
            amount = float(Decimal(int(change.amount)).scaleb(-2))
            async with gate:
                try:
                    await self.client.edit_payment(payment_id, {"status": change.status, "amount": amount}, by="id")
                except (RequestValidationError, NotFoundError) as exc:
                    refused[payment_id] = exc.message

        await asyncio.gather(*(edit(pid, change) for pid, change in changes.items()))
        return refused
