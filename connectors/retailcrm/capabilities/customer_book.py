"""retailCRM's customers as the hub's ``CustomerBook`` (when the CRM receives a storefront's orders).

* Found by phone first (the storefront has no customer id: Horoshop's ``user`` is not one), then by
  e-mail: ``customers?filter[name]=<phone>`` (the CRM's search box filter, which matches names,
  phones and e-mails) and ``filter[email]``, one request per customer and key; phones are compared
  by their digits, so ``+38 (067) 123-45-67`` finds ``380671234567``.
* Created one ``customers/create`` each (v5 has no bulk create on every tariff), with the hub's key
  of the customer as ``externalId``: a create repeated after a lost answer is refused as a
  duplicate and answered with the customer the first one made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from connectors.http import NotFoundError, RequestValidationError
from connectors.retailcrm.capabilities.catalog import _Channel
from connectors.retailcrm.convert.orders import customer_to_crm
from hub.capabilities import OrderOutcome


def digits(phone: Any) -> str:
    """A phone's digits with the country code (a Ukrainian ``0XX…`` gains its ``38``)."""
    found = re.sub(r"\D", "", str(phone or ""))
    return "38" + found if len(found) == 10 and found.startswith("0") else found


def _phones(customer: Mapping[str, Any]) -> set[str]:
    return {digits(p.get("number")) for p in customer.get("phones") or [] if isinstance(p, Mapping)} - {""}


class RetailCRMCustomers(_Channel):
    """Customers found by phone or e-mail, else created exactly once by ``externalId``."""

    max_batch = 50

    async def _search(self, key: str, value: str) -> list[dict[str, Any]]:
        filters = {"name": value} if key == "phone" else {"email": value}
        rows = [c async for page in self.client.iter_customers(filters) for c in page]
        if key == "phone":
            return [c for c in rows if digits(value) in _phones(c)]
        return [c for c in rows if str(c.get("email") or "").lower() == value.lower()]

    async def find_customers(self, customers: pd.DataFrame, by: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for row in customers.to_dict("records"):
            cid = str(row["customer_id"])
            for key in by:
                value = row.get(key)
                if key not in ("phone", "email") or value is None or pd.isna(value) or not str(value).strip():
                    continue
                hits = await self._search(key, digits(value) if key == "phone" else str(value).strip())
                if hits:
                    found[cid] = str(min(int(h["id"]) for h in hits))  # the oldest: the one people use
                    break
        return found

    async def create_customers(
        self, customers: pd.DataFrame, *, group: str | None, keys: Mapping[str, str]
    ) -> dict[str, OrderOutcome]:
        out: dict[str, OrderOutcome] = {}
        for row in customers.to_dict("records"):
            cid = str(row["customer_id"])
            key = keys.get(cid, cid)
            wire = customer_to_crm(row, external_id=cid)
            try:
                made = await self.client.create_customer(wire)
            except RequestValidationError as exc:
                try:  # created by an earlier attempt whose answer was lost?
                    existing = await self.client.get_customer(cid, by="externalId")
                except NotFoundError:  # not a duplicate: the refusal is what the merchant must see
                    out[cid] = OrderOutcome(key, error=exc.message)
                    continue
                made = int(existing["id"])
            out[cid] = OrderOutcome(key, erp_id=str(made))
        return out
