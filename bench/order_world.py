"""What the order benchmark does to the world: people placing orders in the retailCRM sandbox, a watcher
that sees them arrive in the MoySklad sandbox, and the seed module's upload as a peer.

Orders are placed in-process (``create_order`` of the CRM emulator, history source ``user``, as a
manager or the shop's site would), so placing costs no request of anyone's budget.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.retailcrm.sandbox.orders import create_order
from deployments.demo import DEMO_INTEGRATION, DemoWorld


@dataclass
class Person:
    """Someone who orders: a phone (typed several ways) or, one in ten, only an e-mail."""

    first: str
    last: str
    key: str  # the contact in the one form the hub writes: +7XXXXXXXXXX or the lower-case e-mail
    spellings: list[str]
    by_email: bool = False
    crm_ids: list[int] = field(default_factory=list)


def people(count: int, rng: random.Random, prefix: str = "") -> list[Person]:
    out = []
    for n in range(count):
        if n % 10 == 9:
            mail = f"{prefix}buyer{n}@example.ru"
            out.append(Person(f"Имя{n}", f"Фамилия{n}", mail, [mail, mail.capitalize().replace("@e", "@E")], True))
            continue
        d = f"9{rng.randrange(10**9):09d}"
        a, b, c, e = d[:3], d[3:6], d[6:8], d[8:]
        out.append(
            Person(
                f"Имя{n}",
                f"Фамилия{n}",
                "+7" + d,
                [f"+7{d}", f"8 ({a}) {b}-{c}-{e}", f"+7 {a} {b} {c} {e}", d, f"8{d}", f"+7({a}){b}{c}{e}"],
            )
        )
    return out


def live_offers(world: DemoWorld) -> list[dict[str, Any]]:
    """CRM offers our feed loaded whose ``xmlId`` is a live MoySklad product or variant."""
    store = world.moysklad.store
    live = set(store.of_type("product")) | set(store.of_type("variant"))
    return sorted((o for o in world.retailcrm.offers.values() if o.get("xmlId") in live), key=lambda o: o["id"])


def place(
    world: DemoWorld, person: Person, offers: list[dict[str, Any]], rng: random.Random, known: bool | None = None
) -> dict[str, Any]:
    """One order by ``person``: as the CRM customer they already are (``known``; default: half the time),
    else as a new one with their contact typed anew; 1-3 lines; half of them shipped from the CRM's ``msk``."""
    data: dict[str, Any] = {
        "status": rng.choice(["new", "assembling"]),
        "items": [
            {"offer": {"id": o["id"]}, "quantity": rng.randint(1, 5), "initialPrice": rng.randint(10, 999)}
            for o in rng.sample(offers, rng.randint(1, 3))
        ],
    }
    if rng.random() < 0.5:
        data["shipmentStore"] = "msk"
    if person.crm_ids and (rng.random() < 0.5 if known is None else known):
        data["customer"] = {"id": rng.choice(person.crm_ids)}
    else:
        data.update(firstName=person.first, lastName=person.last)
        data["email" if person.by_email else "phone"] = rng.choice(person.spellings)
    order = create_order(world.retailcrm.state, data, DEMO_INTEGRATION, None)
    if order["customer"]["id"] not in person.crm_ids:
        person.crm_ids.append(order["customer"]["id"])
    return order


def place_many(world: DemoWorld, crowd: list[Person], count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` orders: every person once first, then anyone again."""
    offers = live_offers(world)
    return [place(world, crowd[i] if i < len(crowd) else rng.choice(crowd), offers, rng) for i in range(count)]


def erp_orders(world: DemoWorld) -> list[dict[str, Any]]:
    """The MoySklad sandbox's customer orders (a copy, safe while the sandbox's thread writes)."""
    for _ in range(100):
        try:
            return list(world.moysklad.store.of_type("customerorder").values())
        except RuntimeError:  # changed size during iteration
            time.sleep(0.001)
    raise RuntimeError("could not copy the customer orders")


def once_by_external_code(world: DemoWorld, order_ids: Iterable[int]) -> dict[str, int]:
    """How many of these channel orders MoySklad holds once, twice or more, or not at all."""
    wanted = {str(i) for i in order_ids}
    seen: dict[str, int] = {}
    for o in erp_orders(world):
        if o.get("externalCode") in wanted:
            seen[o["externalCode"]] = seen.get(o["externalCode"], 0) + 1
    return {
        "once": sum(1 for n in seen.values() if n == 1),
        "more_than_once": sum(1 for n in seen.values() if n > 1),
        "missing": len(wanted - set(seen)),
    }


class Watcher(threading.Thread):
    """Sees orders appear in MoySklad (by ``externalCode``), every 10 ms; records when."""

    def __init__(self, world: DemoWorld) -> None:
        super().__init__(name="order-watcher", daemon=True)
        self.world = world
        self.placed: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def watch(self, order_id: int, placed_at: float) -> None:
        with self._lock:
            self.placed[str(order_id)] = placed_at

    @property
    def pending(self) -> int:
        with self._lock:
            return len(set(self.placed) - set(self.arrived))

    def run(self) -> None:
        orders = self.world.moysklad.store.of_type("customerorder")
        size = -1
        while not self._halt.is_set():
            if len(orders) != size:
                size = len(orders)
                now = time.monotonic()
                codes = {o.get("externalCode") for o in erp_orders(self.world)}
                with self._lock:
                    for code in set(self.placed) - set(self.arrived):
                        if code in codes:
                            self.arrived[code] = now
            self._halt.wait(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def latencies(self) -> list[float]:
        with self._lock:
            return [self.arrived[c] - t for c, t in self.placed.items() if c in self.arrived]


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


# -- the peer: the seed module's way ------------------------------------------------------------------------


@dataclass
class PeerResult:
    orders: int = 0
    searches: int = 0
    counterparties_created: int = 0
    orders_posted: int = 0
    refused_429: int = 0
    refused_503: int = 0
    seconds: float = 0.0
    contacts: set[str] = field(default_factory=set)


def peer_upload(
    crm_url: str,
    crm_key: str,
    since_id: int,
    wanted: set[int],
    ms_url: str,
    ms_auth: tuple[str, str],
    kinds: dict[str, str],
) -> PeerResult:
    """The seed module's upload of ``wanted`` orders: the CRM's history read from ``since_id`` (100 records a
    page), then per order a counterparty search by the contact as typed, a create when none is found, and
    one POST of the order. Sequential and polite: when MoySklad's ``X-RateLimit-Remaining`` falls under 10
    it waits for the bucket to hold 10 again (45 units per 3 s); a 429 or 503 waits what the answer
    says, then asks again.

    ``kinds`` (offer id -> product/variant) stands for the module's own link table (no request).
    """
    result = PeerResult()
    started = time.monotonic()
    ms_headers = {"Accept-Encoding": "gzip"}
    with httpx.Client(timeout=120) as http:

        def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            while True:
                answer = http.request(method, url, **kwargs)
                if answer.status_code == 429:
                    result.refused_429 += 1
                    time.sleep(int(answer.headers.get("X-Lognex-Retry-After", "1000")) / 1000)
                    continue
                if answer.status_code == 503:
                    result.refused_503 += 1
                    time.sleep(1.0)
                    continue
                answer.raise_for_status()
                left = answer.headers.get("X-RateLimit-Remaining")
                if left is not None and int(left) < 10:
                    time.sleep((10 - int(left)) / 15)
                return answer

        def ms(method: str, path: str, **kwargs: Any) -> Any:
            return call(method, ms_url + path, headers=ms_headers, auth=ms_auth, **kwargs).json()

        orders: list[dict[str, Any]] = []
        cursor = since_id
        while len(orders) < len(wanted):
            page = call(
                "GET",
                f"{crm_url}/api/v5/orders/history",
                headers={"X-API-Key": crm_key},
                params={"filter[sinceId]": cursor, "limit": 100},
            ).json()
            records = page.get("history") or []
            if not records:
                break
            cursor = max(int(r["id"]) for r in records)
            orders += [r["order"] for r in records if r.get("created") and (r.get("order") or {}).get("id") in wanted]
        organization = ms("GET", "/entity/organization")["rows"][0]["meta"]
        for order in orders:
            customer = order.get("customer") or {}
            phones = customer.get("phones") or []
            phone = order.get("phone") or (phones[0]["number"] if phones else None)
            email = order.get("email") or customer.get("email")
            field_name, value = ("phone", phone) if phone else ("email", email)
            result.contacts.add(str(value))
            found = ms("GET", "/entity/counterparty", params={"filter": f"{field_name}={value}", "limit": 1})["rows"]
            result.searches += 1
            if found:
                agent = found[0]["meta"]
            else:
                name = " ".join(
                    v
                    for v in (
                        order.get("lastName") or customer.get("lastName"),
                        order.get("firstName") or customer.get("firstName"),
                    )
                    if v
                )
                agent = ms("POST", "/entity/counterparty", json={"name": name or str(value), field_name: value})["meta"]
                result.counterparties_created += 1
            positions = [
                {
                    "quantity": item["quantity"],
                    "price": float(item["initialPrice"]) * 100,
                    "assortment": {
                        "meta": {
                            "href": f"{ms_url}/entity/{kinds[item['offer']['xmlId']]}/{item['offer']['xmlId']}",
                            "type": kinds[item["offer"]["xmlId"]],
                            "mediaType": "application/json",
                        }
                    },
                }
                for item in order.get("items") or []
            ]
            ms(
                "POST",
                "/entity/customerorder",
                json={
                    "name": str(order["number"]),
                    "externalCode": str(order["id"]),
                    "organization": {"meta": organization},
                    "agent": {"meta": agent},
                    "positions": positions,
                },
            )
            result.orders_posted += 1
        result.orders = len(orders)
    result.seconds = time.monotonic() - started
    return result
