"""MoySklad counterparties as the hub's ``CustomerBook``: found by contact in few requests, else created in bulk.

MoySklad's ``filter=phone=…`` compares the stored string exactly ([CP]: ``phone`` is a free-form
String(255) with ``= != ~ ~= =~``; the doc's own samples write ``+7 495 331 22 33``), so a phone is
searched in one normalised form (``+7XXXXXXXXXX``, the form the hub also creates counterparties
with) and, when the customer typed it otherwise, in that form too. Repeating ``=`` on one field ORs
([GEN] filter), so one request asks for up to 100 values: a batch of customers costs one request per
key kind and hundred customers, not one per customer. Creates go as bulk POSTs with a ``syncId``
per customer (a retry returns the counterparty created the first time); customers of one batch with
the same contact (one person the channel knows twice, the phone typed two ways) get one counterparty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.client import BulkItemResult
from connectors.moysklad.convert.orders import customer_to_payload
from connectors.moysklad.wire.meta import Json
from hub.capabilities import OrderOutcome

#: MoySklad error codes of a bulk item worth sending again later (internal error, a concurrent
#: change of the same object, the 5-minute bulk limit); every other item error is the data's fault
RETRYABLE_CODES = frozenset({1000, 1065, 1088})
#: the canonical ``customers`` bank columns → MoySklad ``accounts`` fields
BANK_COLUMNS = {
    "bank_account": "accountNumber",
    "bank_bic": "bic",
    "bank_name": "bankName",
    "bank_corr_account": "correspondentAccount",
}


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def normalise_phone(raw: Any) -> str | None:
    """A Russian phone in the one form the hub searches and writes: ``+7XXXXXXXXXX``.

    ``8 (999) 111-22-33``, ``+7 999 111 22 33`` and ``9991112233`` all become ``+79991112233``;
    another country's number written with ``+`` keeps its digits (``+375291112233``). Anything
    else (too short, letters only) is None: it cannot be searched exactly.
    """
    text = _text(raw)
    if text is None:
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10:
        return "+7" + digits
    if text.startswith("+") and 11 <= len(digits) <= 15:
        return "+" + digits
    return None


def _phone_variants(raw: Any) -> list[str]:
    norm, typed = normalise_phone(raw), _text(raw)
    return [v for v in dict.fromkeys((norm, typed if norm else None)) if v]


def _email_variants(raw: Any) -> list[str]:
    typed = _text(raw)
    return list(dict.fromkeys((typed.lower(), typed))) if typed and "@" in typed else []


def _inn_variants(raw: Any) -> list[str]:
    digits = re.sub(r"\D", "", _text(raw) or "")
    return [digits] if len(digits) in (10, 12) else []


#: search key → (the values a customer is searched by, the counterparty field)
SEARCH_KEYS: dict[str, tuple[Callable[[Any], list[str]], str]] = {
    "phone": (_phone_variants, "phone"),
    "email": (_email_variants, "email"),
    "inn": (_inn_variants, "inn"),
}


def item_outcome(key: str, result: BulkItemResult) -> OrderOutcome:
    """One bulk item's result as an outcome: the saved id, or MoySklad's error in one line."""
    if result.ok and result.entity is not None:
        return OrderOutcome(key, erp_id=str(result.entity["id"]))
    parts = [
        f"[{e.get('code')}] {e.get('error')}" + (f" ({e['parameter']})" if e.get("parameter") else "")
        for e in result.errors
    ]
    retryable = any(e.get("code") in RETRYABLE_CODES for e in result.errors)
    return OrderOutcome(key, error="; ".join(parts) or "refused without a reason", retryable=retryable)


def _contact_person(row: Mapping[str, Any]) -> Json | None:
    name = " ".join(v for v in (_text(row.get("last_name")), _text(row.get("first_name"))) if v)
    if not name:
        return None
    email = _text(row.get("email"))
    return {
        "name": name,
        "phone": normalise_phone(row.get("phone")) or _text(row.get("phone")),
        "email": email.lower() if email else None,
    }


def _accounts(row: Mapping[str, Any]) -> list[Json]:
    account = {wire: _text(row.get(col)) for col, wire in BANK_COLUMNS.items()}
    if not account["accountNumber"]:
        return []
    return [{**{k: v for k, v in account.items() if v}, "isDefault": True}]


class MoySkladCustomers(OverClient):
    """``CustomerBook`` over one MoySklad account."""

    #: counterparties per bulk POST (MoySklad takes 1000; 100 keeps a failed request cheap)
    max_batch = 100

    async def find_customers(self, customers: pd.DataFrame, by: Sequence[str]) -> dict[str, str]:
        unknown = [k for k in by if k not in SEARCH_KEYS]
        if unknown:
            raise ValueError(f"cannot search counterparties by {unknown}; known: {sorted(SEARCH_KEYS)}")
        pending = {str(r["customer_id"]): r for r in customers.to_dict("records") if _text(r.get("customer_id"))}
        found: dict[str, str] = {}
        for kind in by:
            variants, field = SEARCH_KEYS[kind]
            wanted = {cid: variants(row.get(kind)) for cid, row in pending.items()}
            wanted = {cid: values for cid, values in wanted.items() if values}
            if not wanted:
                continue
            rows = await self.client.filter_any("counterparty", field, [v for vs in wanted.values() for v in vs])
            first: dict[str, str] = {}  # value -> the oldest counterparty holding it
            for row in sorted(rows, key=lambda r: (str(r.get("created") or ""), str(r["id"]))):
                first.setdefault(str(row.get(field)), str(row["id"]))
            for cid, values in wanted.items():
                hit = next((first[v] for v in values if v in first), None)
                if hit is not None:
                    found[cid] = hit
                    pending.pop(cid)
        return found

    def payload(self, row: Mapping[str, Any], *, group: str | None, key: str) -> Json:
        """One customer's ``counterparty`` create body (phone in the normalised form)."""
        inn, email = _inn_variants(row.get("inn")), _text(row.get("email"))
        clean = {
            **row,
            "phone": normalise_phone(row.get("phone")) or _text(row.get("phone")),
            "email": email.lower() if email else None,
            "inn": inn[0] if inn else None,
        }
        person = _contact_person(row) if clean.get("company_type") == "legal" else None
        return customer_to_payload(clean, accounts=_accounts(row), contact_person=person, sync_key=key, group=group)

    async def create_customers(
        self, customers: pd.DataFrame, *, group: str | None, keys: Mapping[str, str]
    ) -> dict[str, OrderOutcome]:
        rows = [
            {str(k): v for k, v in r.items()} for r in customers.to_dict("records") if str(r["customer_id"]) in keys
        ]
        out: dict[str, OrderOutcome] = {}
        bodies: list[tuple[str, Json]] = []
        same: dict[str, list[str]] = {}  # the customer whose body goes -> the channel customers it stands for
        first_of: dict[str, str] = {}  # contact (normalised phone, else e-mail, else INN) -> that customer
        for row in rows:
            cid = str(row["customer_id"])
            try:
                body = self.payload(row, group=group, key=keys[cid])
            except (KeyError, ValueError, TypeError) as exc:
                out[cid] = OrderOutcome(keys[cid], error=f"customer {cid} cannot be converted: {exc}")
                continue
            contact = body.get("phone") or body.get("email") or body.get("inn")
            if contact and contact in first_of:  # one person as two channel customers: one counterparty
                same[first_of[contact]].append(cid)
                continue
            if contact:
                first_of[str(contact)] = cid
            same[cid] = [cid]
            bodies.append((cid, body))
        for start in range(0, len(bodies), self.max_batch):
            chunk = bodies[start : start + self.max_batch]
            results = await self.client.bulk_create("counterparty", [body for _, body in chunk])
            for (cid, _), result in zip(chunk, results, strict=True):
                for each in same[cid]:
                    out[each] = item_outcome(keys[each], result)
        return out
