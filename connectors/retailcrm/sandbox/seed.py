"""Deterministic generators: a catalog (as ICML offers), customers and orders of any size."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from decimal import Decimal

from connectors.retailcrm.convert.icml import IcmlCategory, IcmlOffer
from connectors.retailcrm.sandbox.catalog import upsert_catalog
from connectors.retailcrm.sandbox.customers import new_customer
from connectors.retailcrm.sandbox.orders import create_order
from connectors.retailcrm.sandbox.state import CrmState

_FIRST = ("Анна", "Иван", "Мария", "Пётр", "Ольга", "Сергей", "Елена", "Дмитрий")
_LAST = ("Иванова", "Петров", "Смирнова", "Кузнецов", "Попова", "Соколов", "Волкова", "Новиков")
_GOODS = ("Футболка", "Кружка", "Рюкзак", "Блокнот", "Худи", "Кепка", "Шарф", "Носки")
_SIZES = ("S", "M", "L", "XL")


def sample_categories() -> list[IcmlCategory]:
    """A small two-level category tree."""
    return [
        IcmlCategory("1", "Одежда"),
        IcmlCategory("2", "Аксессуары"),
        IcmlCategory("3", "Футболки", "1"),
        IcmlCategory("4", "Сумки & рюкзаки", "2"),
    ]


def sample_offers(n: int, *, seed: int = 0) -> Iterator[IcmlOffer]:
    """``n`` offers, four variants (sizes) per product, with MoySklad-like UUIDs as ``xmlId``."""
    rng = random.Random(seed)
    for i in range(n):
        product = i // len(_SIZES)
        size = _SIZES[i % len(_SIZES)]
        good = _GOODS[product % len(_GOODS)]
        price = Decimal(rng.randrange(10_000, 500_000)) / 100
        yield IcmlOffer(
            id=f"P{product:06d}-{size}",
            product_id=f"P{product:06d}",
            name=f"{good} «{product}» <{size}>",
            product_name=f"{good} «{product}»",
            xml_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            price=price,
            purchase_price=(price * Decimal("0.6")).quantize(Decimal("0.01")),
            quantity=float(rng.randrange(0, 50)),
            category_ids=("3" if product % 2 == 0 else "4",),
            pictures=(f"https://img.example/{product}.jpg",),
            params=(("Артикул", "article", f"ART-{product:06d}"), ("Размер", "size", size)),
            vendor="Sklad & Co",
            vat_rate="20",
            active=rng.random() > 0.05,
            weight=round(rng.uniform(0.1, 3.0), 3),
            dimensions=f"{rng.randrange(5, 60)}/{rng.randrange(5, 60)}/{rng.randrange(1, 30)}",
        )


def seed_catalog(state: CrmState, site: str, n: int, *, seed: int = 0) -> int:
    """Create ``n`` offers directly in ``site``'s catalog (no ICML round trip)."""
    return upsert_catalog(state, site, sample_categories(), sample_offers(n, seed=seed))


def seed_customers(state: CrmState, site: str, n: int, *, seed: int = 0) -> list[int]:
    """Create ``n`` customers as managers would (history source ``user``)."""
    rng = random.Random(seed)
    ids = []
    for i in range(n):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        data = {
            "externalId": f"c{seed}-{i}",
            "firstName": first,
            "lastName": last,
            "email": f"client{seed}_{i}@example.com",
            "phones": [{"number": f"+7900{rng.randrange(10**7):07d}"}],
        }
        ids.append(new_customer(state, data, site, None))
    return ids


def seed_orders(state: CrmState, site: str, n: int, *, seed: int = 0) -> list[int]:
    """Create ``n`` orders with 1-3 lines from the site's catalog (seeding one if it is empty)."""
    rng = random.Random(seed)
    offer_ids = [oid for oid, o in state.offers.items() if o["site"] == site and o["active"]]
    if not offer_ids:
        seed_catalog(state, site, 40, seed=seed)
        offer_ids = [oid for oid, o in state.offers.items() if o["site"] == site and o["active"]]
    customers = seed_customers(state, site, max(1, n // 3), seed=seed)
    statuses = [code for code in state.statuses if code != "cancel-other"]
    created = []
    for i in range(n):
        items = [
            {
                "offer": {"id": oid},
                "quantity": rng.randrange(1, 4),
                "initialPrice": state.prices.get(oid, {}).get(state.default_price_type(), 100.0),
            }
            for oid in rng.sample(offer_ids, k=min(len(offer_ids), rng.randrange(1, 4)))
        ]
        order = {
            "externalId": f"seed{seed}-{i}",
            "status": rng.choice(statuses),
            "items": items,
            "customer": {"id": rng.choice(customers)},
            "delivery": {"code": rng.choice(list(state.delivery_types)), "cost": 300},
            "firstName": rng.choice(_FIRST),
            "lastName": rng.choice(_LAST),
        }
        created.append(create_order(state, order, site, None)["id"])
    return created
