"""retailCRM orders' custom fields and manager as the hub's ``OrderFieldSink``; its users as ``StaffBook``.

One ``orders/{id}/edit?by=id`` an order (v5 has no batch edit), within the key's 10 requests/s, with
``customFields`` (only the codes given change; a dictionary field's element name becomes its code, and
a name the CRM's dictionary lacks refuses that order) and ``managerId``: absolute values, so a
repeated edit is harmless. The users are one ``GET /users`` page of 100 per request, active ones only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from connectors.http import NotFoundError, RequestValidationError
from connectors.retailcrm.capabilities.orders import EDITS_IN_FLIGHT, RetailCRMOrders
from hub.capabilities import OrderFieldChange, Person


class RetailCRMOrderFields(RetailCRMOrders):
    """``OrderFieldSink`` and ``StaffBook`` over one retailCRM account."""

    async def staff(self) -> list[Person]:
        return [
            Person(
                str(u["id"]),
                " ".join(str(u[k]) for k in ("lastName", "firstName") if u.get(k)) or None,
                u.get("email"),
                u.get("firstName"),
                u.get("lastName"),
            )
            for u in await self.client.users()
        ]

    async def set_order_fields(self, changes: Mapping[str, OrderFieldChange]) -> dict[str, str]:
        refused: dict[str, str] = {}
        gate = asyncio.Semaphore(EDITS_IN_FLIGHT)

        async def edit(order_id: str, change: OrderFieldChange) -> None:
            body: dict[str, Any] = {}
            if change.manager_id is not None:
                body["managerId"] = int(change.manager_id) if change.manager_id.isdigit() else change.manager_id
            async with gate:
                try:
                    if change.custom_fields:  # a dictionary field takes its element's code
                        body["customFields"] = await self.dictionary_values().coded(change.custom_fields)
                    if body:
                        await self.client.edit_order(order_id, body, by="id")
                except ValueError as exc:
                    refused[order_id] = str(exc)
                except (RequestValidationError, NotFoundError) as exc:
                    refused[order_id] = exc.message

        await asyncio.gather(*(edit(oid, change) for oid, change in changes.items()))
        return refused
