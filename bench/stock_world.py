"""What the stock-sync benchmark needs around the demo world: stock changes made as a user makes them,
what the CRM should then hold, and the moment it does.

- :class:`StockView`: the stocked offers both sandboxes know (MoySklad id -> CRM offer id), the
  store mapping, and what the CRM should hold for an offer, worked out from the MoySklad sandbox's
  own ledger by the rules the flow applies (per source store ``max(freeStock, 0)``, summed per CRM
  warehouse). Only ``dict.get`` on the sandboxes' state: they serve from other threads.
- :class:`Operator`: a MoySklad user making shipments (``demand``, stock out) and sales returns
  (``salesreturn``, stock in) through the sandbox's HTTP API with a credential of its own, so its
  requests never count as ours nor spend our rate budget, and every write runs on the sandbox's
  own event loop (stock report and webhooks see it as they would a user's).
- :func:`plan_changes`: changes that always move what the CRM should hold (a decrease only where
  the store has that much free stock; an increase where it has none below zero).
- :class:`Watcher`: a thread that polls the CRM sandbox's state every few milliseconds and stamps
  the moment each pending change is held there.
"""

from __future__ import annotations

import math
import random
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.state import entity_meta
from connectors.retailcrm.sandbox import RetailCRMSandbox

STOCKED_KINDS = ("product", "variant")  # the demo world seeds no bundles
DOC_IN, DOC_OUT = "salesreturn", "demand"


@dataclass
class Change:
    """One offer's stock moved at one store; ``expected`` is what the CRM should then hold per warehouse."""

    offer_id: str
    crm_id: int
    store_id: str
    delta: float
    before: dict[str, float] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    made_at: float = 0.0  # wall clock (time.time()) when the document was saved in MoySklad
    held_at: float | None = None  # when the CRM sandbox held ``expected``
    document: str = ""

    @property
    def latency(self) -> float | None:
        return None if self.held_at is None else self.held_at - self.made_at


class StockView:
    """The offers both sides know, the store mapping, and what the CRM should hold."""

    def __init__(
        self, ms: MoySkladSandbox, crm: RetailCRMSandbox, store_names: dict[str, str], measure: str = "freeStock"
    ) -> None:
        self.ms, self.crm, self.measure = ms, crm, measure
        by_name = {str(s["name"]): str(s["id"]) for s in ms.store.of_type("store").values()}
        self.store_code = {by_name[name]: code for name, code in store_names.items() if code and name in by_name}
        self.codes = sorted(set(self.store_code.values()))
        crm_of = {str(o.get("xmlId")): crm_id for crm_id, o in list(crm.offers.items()) if o.get("xmlId")}
        self.kind: dict[str, str] = {}
        self.crm_id: dict[str, int] = {}
        for kind in STOCKED_KINDS:
            for oid, obj in list(ms.store.of_type(kind).items()):
                if obj.get("archived") or (kind == "product" and obj.get("variantsCount")) or oid not in crm_of:
                    continue
                self.kind[oid], self.crm_id[oid] = kind, crm_of[oid]
        self.offers = sorted(self.kind)

    def free(self, offer_id: str, store_id: str) -> float:
        """The offer's measure at one store, from the ledger (0 when it never moved there)."""
        totals = self.ms.ledger.totals.get((offer_id, store_id))
        if totals is None:
            return 0.0
        stock, reserve, transit = totals.get("stock", 0.0), totals.get("reserve", 0.0), totals.get("inTransit", 0.0)
        return {"stock": stock, "freeStock": stock - reserve, "quantity": stock - reserve + transit}[self.measure]

    def expected(self, offer_id: str) -> dict[str, float]:
        """Per CRM warehouse: the sum over its source stores of ``max(measure, 0)``, capped (retailCRM
        takes fractions: nothing is floored)."""
        out = dict.fromkeys(self.codes, 0.0)
        for store_id, code in self.store_code.items():
            out[code] += max(self.free(offer_id, store_id), 0.0)
        return {code: float(min(v, 999_999)) for code, v in out.items()}

    def held(self, offer_id: str) -> dict[str, float] | None:
        """What the CRM sandbox holds for the offer per warehouse (None: nothing yet)."""
        per_store = self.crm.inventories.get(self.crm_id[offer_id])
        if per_store is None:
            return None
        out: dict[str, float] = {}
        for code in self.codes:
            slot = per_store.get(code)
            if slot is None:
                return None
            out[code] = float(slot.get("available", math.nan))
        return out

    def holds(self, change: Change) -> bool:
        return self.held(change.offer_id) == change.expected

    def mismatches(self, offer_ids: Iterable[str]) -> list[str]:
        """Offers whose CRM stock differs from what MoySklad's ledger says it should be."""
        return [o for o in offer_ids if self.held(o) != self.expected(o)]


def plan_changes(view: StockView, offers: Sequence[str], rng: random.Random) -> list[Change]:
    """One change per offer at a random mapped store, each moving what the CRM should hold."""
    stores = sorted(view.store_code)
    out: list[Change] = []
    for offer in offers:
        for _ in range(len(stores)):
            store = rng.choice(stores)
            free = view.free(offer, store)
            if free >= 1 and rng.random() < 0.5:
                delta = -float(rng.randint(1, int(min(free, 3))))
            elif free >= 0:
                delta = float(rng.randint(1, 5))
            else:  # over-sold here: a small return would still show 0; try another store
                continue
            out.append(Change(offer, view.crm_id[offer], store, delta, before=view.expected(offer)))
            break
    return out


class Operator:
    """A MoySklad user making stock documents through the sandbox's API, with a token of its own."""

    def __init__(self, ms: MoySkladSandbox, ms_url: str) -> None:
        self.ms = ms
        self.requests = 0
        token = secrets.token_urlsafe(24)
        ms.tokens[token] = "app"
        self.http = httpx.Client(
            base_url=ms_url.rstrip("/"),
            timeout=120,
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
        )
        self.organization = next(iter(ms.store.of_type("organization")))
        agents = list(ms.store.of_type("counterparty"))
        self.agent = agents[0] if agents else str(self._post("counterparty", {"name": "Покупатель"})["id"])

    def close(self) -> None:
        self.http.close()

    def _post(self, entity: str, body: Any) -> Any:
        for _ in range(20):
            self.requests += 1
            answer = self.http.post(f"/entity/{entity}", json=body)
            if answer.status_code == 429:  # our own bucket: wait as MoySklad says
                time.sleep(int(answer.headers.get("X-Lognex-Retry-After", "1000")) / 1000)
                continue
            answer.raise_for_status()
            return answer.json()
        raise RuntimeError(f"operator: POST /entity/{entity} refused 20 times")

    def _document(self, kind: str, store_id: str, lines: list[Change]) -> dict[str, Any]:
        return {
            "organization": {"meta": entity_meta("organization", self.organization)},
            "agent": {"meta": entity_meta("counterparty", self.agent)},
            "store": {"meta": entity_meta("store", store_id)},
            "positions": [
                {"assortment": {"meta": entity_meta(self.ms_kind(c.offer_id), c.offer_id)}, "quantity": abs(c.delta)}
                for c in lines
            ],
        }

    def ms_kind(self, offer_id: str) -> str:
        return "variant" if self.ms.store.get("variant", offer_id) is not None else "product"

    def make(self, changes: Sequence[Change]) -> None:
        """Save the changes as documents: one per (direction, store), all of a direction in one request."""
        groups: dict[tuple[str, str], list[Change]] = defaultdict(list)
        for change in changes:
            groups[(DOC_IN if change.delta > 0 else DOC_OUT, change.store_id)].append(change)
        for kind in (DOC_IN, DOC_OUT):
            docs = [(store, lines) for (k, store), lines in groups.items() if k == kind]
            for start in range(0, len(docs), 100):
                part = docs[start : start + 100]
                saved = self._post(kind, [self._document(kind, store, lines) for store, lines in part])
                now = time.time()
                for (_, lines), answer in zip(part, saved, strict=True):
                    if "errors" in answer:
                        raise RuntimeError(f"operator: {kind} refused: {answer['errors']}")
                    for change in lines:
                        change.made_at, change.document = now, kind

    def make_one(self, change: Change) -> None:
        """One change, one document (the latency runs: each change at its own moment)."""
        kind = DOC_IN if change.delta > 0 else DOC_OUT
        answer = self._post(kind, self._document(kind, change.store_id, [change]))
        change.made_at, change.document = time.time(), kind
        if "errors" in answer:
            raise RuntimeError(f"operator: {kind} refused: {answer['errors']}")


class Watcher(threading.Thread):
    """Stamps ``held_at`` on each pending change once the CRM sandbox holds what it should."""

    def __init__(self, view: StockView, period: float = 0.01) -> None:
        super().__init__(name="crm-watcher", daemon=True)
        self.view, self.period = view, period
        self._pending: dict[str, Change] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def watch(self, change: Change) -> None:
        with self._lock:
            self._pending[change.offer_id] = change

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.time()
            with self._lock:
                items = list(self._pending.items())
            for offer, change in items:
                if self.view.holds(change):
                    change.held_at = now
                    with self._lock:
                        self._pending.pop(offer, None)
            self._halt.wait(self.period)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
