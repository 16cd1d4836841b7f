"""Generated shop data: a catalog in categories, custom statuses, and orders placed on the storefront.

Orders carry the field reports' traps on purpose (D.1): some with ``delivery_price`` −1 (not
calculated), ``total_sum`` without the delivery, ``user`` an account number and not a customer,
``utm_campaign`` a number.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.horoshop.sandbox.state import ShopState
from connectors.horoshop.wire.shop_time import to_wire

CATEGORIES = ("Сукні", "Взуття", "Аксесуари", "Сумки")
FIRST = ("Олена", "Ірина", "Марія", "Оксана", "Тетяна", "Андрій", "Дмитро")
LAST = ("Коваленко", "Шевченко", "Бондаренко", "Ткаченко", "Кравченко", "Мельник")
CITIES = ("Київ", "Львів", "Одеса", "Дніпро", "Харків")


def seed_catalog(state: ShopState, n: int, *, seed: int = 0) -> list[str]:
    """``n`` products in four categories; returns their articles."""
    rng = random.Random(seed)
    for i, name in enumerate(CATEGORIES, start=1):
        state.pages.setdefault(i, {"id": i, "title": {"ua": name}, "parent": 0, "url": f"/c{i}/"})
    made = []
    for i in range(len(state.products), len(state.products) + n):
        article = f"HS-{i + 1:05d}"
        parent = rng.randint(1, len(CATEGORIES))
        price = rng.randrange(200, 5000, 10)
        state.products[article] = {
            "article": article,
            "title": {"ua": f"{CATEGORIES[parent - 1][:-1]} модель {i + 1}"},
            "parent": {"id": parent, "value": CATEGORIES[parent - 1]},
            "price": price,
            "price_old": price + rng.choice((0, 0, 100, 250)),
            "currency": "UAH",
            "presence": {"id": 1, "value": "В наявності"} if rng.random() > 0.2 else {"id": 2, "value": "Немає"},
            "display_in_showcase": 1,
            "images": [f"https://cdn.example-shop.ua/img/{article}.jpg"],
            "brand": "Demo",
        }
        made.append(article)
    return made


def place_order(
    state: ShopState,
    *,
    phone: str,
    name: str,
    lines: Sequence[tuple[str, float]],
    delivery: int = 1,
    payment: int = 1,
    delivery_price: int = -1,
    created: datetime | None = None,
    user: int = 0,
    email: str = "",
    city: str = "Київ",
    address: str = "",
    comment: str = "",
) -> dict[str, Any]:
    """An order as a buyer places it on the storefront (status 1, new); ``lines``: (article, qty)."""
    order_id = max(state.orders, default=1000) + 1
    products = []
    for article, quantity in lines:
        product = state.products[article]
        products.append(
            {
                "article": article,
                "title": product["title"]["ua"],
                "price": product["price"],
                "quantity": quantity,
                "total_price": round(product["price"] * quantity, 2),
                "type": "",
                "discount_marker": "",
            }
        )
    total = round(sum(p["total_price"] for p in products), 2)
    order = {
        "order_id": order_id,
        "user": user,  # the storefront account's number (0: a guest), never a customer id (D.1)
        "delivery_name": name,
        "delivery_email": email,
        "delivery_phone": phone,
        "delivery_city": city,
        "delivery_address": address,
        "delivery_type": {"id": delivery, "title": state.deliveries.get(delivery, {}).get("title", {}).get("ua", "")},
        "delivery_price": delivery_price,  # -1: not calculated (D.1)
        "comment": comment,
        "payment_type": {"id": payment, "title": state.payments.get(payment, {}).get("title", {}).get("ua", "")},
        "payment_price": 0,
        "payed": 0,
        "total_default": total,
        "total_sum": total,  # without the delivery (D.1)
        "total_quantity": sum(q for _, q in lines),
        "discount_percent": 0,
        "discount_value": 0,
        "coupon_code": "",
        "stat_status": 1,
        "stat_created": to_wire(created or datetime.now(UTC), state.timezone),
        "currency": "UAH",
        "products": products,
        "analytics": {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": 20261207},
        "manager_comment": "",
    }
    state.orders[order_id] = order
    return order


def seed_orders(state: ShopState, n: int, *, seed: int = 0, days: int = 30, now: datetime | None = None) -> list[int]:
    """``n`` orders over the last ``days``, from a few returning buyers (so phones repeat)."""
    rng = random.Random(seed)
    articles = list(state.products)
    if not articles:
        raise ValueError("seed the catalog first")
    buyers = [
        (f"+38067{rng.randrange(1_000_000, 9_999_999)}", f"{rng.choice(FIRST)} {rng.choice(LAST)}")
        for _ in range(max(1, n // 3))
    ]
    now = now or datetime.now(UTC)
    made = []
    moments = sorted(now - timedelta(seconds=rng.randrange(60, days * 86400)) for _ in range(n))
    for created in moments:  # ids follow placing time, as on the storefront
        phone, name = rng.choice(buyers)
        lines = [(rng.choice(articles), float(rng.randint(1, 3))) for _ in range(rng.randint(1, 3))]
        order = place_order(
            state,
            phone=phone,
            name=name,
            lines=list(dict(lines).items()),
            delivery=rng.choice(list(state.deliveries)),
            payment=rng.choice(list(state.payments)),
            delivery_price=rng.choice((-1, 0, 70, 120)),
            created=created,
            user=rng.choice((0, rng.randrange(1, 500))),
            city=rng.choice(CITIES),
            address=f"Відділення №{rng.randint(1, 200)}",
        )
        made.append(order["order_id"])
    return made


def custom_statuses(state: ShopState, titles: Mapping[str, bool] | None = None) -> dict[str, int]:
    """The custom statuses a shop admin typically adds; title -> id."""
    wanted = titles or {"Оплачено": False, "Повернення": False, "Виконано": True}
    return {title: state.add_status(title, success=success) for title, success in wanted.items()}
