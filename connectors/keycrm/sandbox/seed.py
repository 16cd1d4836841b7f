"""Deterministic generated data: products with offers (SKUs), stock per warehouse, orders."""

from __future__ import annotations

import random
from collections.abc import Iterable

import connectors.keycrm.sandbox.orders as orders
from connectors.keycrm.sandbox.state import KeyState

_GOODS = ("Сорочка", "Футболка", "Худі", "Кепка", "Шарф", "Рюкзак", "Чашка", "Блокнот")
_COLOURS = ("біла", "чорна", "синя")
_SIZES = ("S", "M", "L", "XL")
_NAMES = ("Олена Коваль", "Іван Петренко", "Марія Шевченко", "Андрій Бондар", "Оксана Мельник")


def sku_of(n: int) -> str:
    """The SKU of the n-th generated offer (what a stock system's article holds for it)."""
    return f"KC-{n:06d}"


def seed_catalog(state: KeyState, n: int, *, seed: int = 0, stock: bool = True) -> int:
    """``n`` offers, four sizes per product, SKUs ``KC-000001``…; some stock on the first warehouse."""
    rng = random.Random(seed)
    first_wh = next(iter(state.warehouses))
    for i in range(n):
        product_no = i // len(_SIZES)
        pid = product_no + 1
        name = f"{_GOODS[product_no % len(_GOODS)]} {_COLOURS[product_no % len(_COLOURS)]}"
        state.products.setdefault(pid, {"id": pid, "name": name, "currency_code": "UAH", "has_offers": True})
        oid = state.new_id("offer")
        price = rng.randrange(200, 3000)
        state.offers[oid] = {
            "id": oid,
            "product_id": pid,
            "sku": sku_of(i + 1),
            "barcode": None,
            "price": float(price),
            "purchased_price": float(price // 2),
            "quantity": 0,
            "properties": [
                {"name": "Колір", "value": _COLOURS[product_no % len(_COLOURS)]},
                {"name": "Розмір", "value": _SIZES[i % len(_SIZES)]},
            ],
        }
        if stock:
            state.stock[(oid, first_wh)] = [float(rng.randrange(0, 20)), 0.0]
    return n


def seed_orders(state: KeyState, n: int, *, seed: int = 0) -> list[int]:
    """``n`` orders of one to three catalog offers each, as managers would enter them."""
    rng = random.Random(seed)
    skus = [o["sku"] for o in state.offers.values()]
    ids = []
    for i in range(n):
        lines = [{"sku": rng.choice(skus), "quantity": rng.randrange(1, 3)} for _ in range(rng.randrange(1, 4))]
        name = _NAMES[i % len(_NAMES)]
        buyer = {"full_name": name, "phone": f"+38050{rng.randrange(1000000, 9999999)}"}
        ids.append(orders.new_order(state, {"buyer": buyer, "products": lines})["id"])
    return ids


def add_offers(state: KeyState, offers: Iterable[tuple[str, str, float]]) -> int:
    """One product with one offer per ``(sku, name, price)``; no stock yet."""
    added = 0
    for sku, name, price in offers:
        pid = state.new_id("product", 1 + max(state.products, default=0))
        state.products[pid] = {"id": pid, "name": name, "currency_code": "UAH", "has_offers": False}
        oid = state.new_id("offer", 1 + max(state.offers, default=0))
        state.offers[oid] = {"id": oid, "product_id": pid, "sku": sku, "price": price, "properties": []}
        added += 1
    return added
