"""A small canonical catalog with everything a feed must carry: a product with two variants
(characteristics, pictures), a plain product in two warehouses, a service, a bundle, an archived
item, a nested category tree; stock already by the channel's outlets."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hub import model
from hub.capabilities import FeedSlice

MAIN, OLD = "pt-sale", "pt-old"


def sample_categories() -> pd.DataFrame:
    return model.frame(
        "categories",
        (
            [
                {"category_id": "f-root", "parent_id": None, "name": "Обувь", "archived": False},
                {"category_id": "f-kids", "parent_id": "f-root", "name": "Детская обувь", "archived": False},
                {"category_id": "f-old", "parent_id": None, "name": "Архив", "archived": True},
            ]
        ),
    )


def sample_slice(offer_keys: dict[str, str] | None = None) -> FeedSlice:
    products: list[dict[str, Any]] = (
        [
            {"product_id": "p-boot", "kind": "product", "name": "Ботинки", "article": "B-1", "category_id": "f-kids",
             "vendor": "Топ & Ко", "description": "Кожа <натуральная>", "weight": 0.8, "archived": False},
            {"product_id": "p-cap", "kind": "product", "name": "Кепка", "article": "C-2", "category_id": "f-root",
             "vendor": None, "description": None, "weight": None, "archived": False},
            {"product_id": "p-fit", "kind": "service", "name": "Примерка", "category_id": "f-root", "archived": False},
            {"product_id": "p-set", "kind": "bundle", "name": "Комплект", "category_id": "f-root", "archived": False},
        ]
    )  # fmt: skip
    offers: list[dict[str, Any]] = (
        [
            {"offer_id": "v-38", "product_id": "p-boot", "kind": "variant", "name": "Ботинки (38)",
             "characteristics": "Размер=38;Цвет=чёрный", "archived": False},
            {"offer_id": "v-39", "product_id": "p-boot", "kind": "variant", "name": "Ботинки (39)",
             "characteristics": "Размер=39;Цвет=чёрный", "archived": False},
            {"offer_id": "p-cap", "product_id": "p-cap", "kind": "product", "name": "Кепка", "article": "C-2",
             "archived": False},
            {"offer_id": "p-fit", "product_id": "p-fit", "kind": "service", "name": "Примерка", "archived": False},
            {"offer_id": "p-set", "product_id": "p-set", "kind": "bundle", "name": "Комплект", "archived": False},
        ]
    )  # fmt: skip
    prices = (
        [
            {"offer_id": o, "price_type_id": t, "amount": a, "currency_id": "rub"}
            for o, t, a in [
                ("v-38", MAIN, 450000), ("v-38", OLD, 500000), ("v-39", MAIN, 450000),
                ("p-cap", MAIN, 99950), ("p-cap", OLD, 90000), ("p-fit", MAIN, 30000), ("p-set", MAIN, 520000),
            ]
        ]
    )  # fmt: skip
    channel_stock = (
        [
            {"offer_id": o, "store_id": s, "available": q, "stock_type": "stock"}
            for o, s, q in [
                ("v-38", "1", 3.0), ("v-38", "2", 0.0), ("v-39", "1", 0.0), ("v-39", "2", 0.0),
                ("p-cap", "1", 5.0), ("p-cap", "2", 7.0), ("p-set", "1", 1.0), ("p-set", "2", 0.0),
            ]
        ]
    )  # fmt: skip
    images: list[dict[str, Any]] = (
        [
            {"owner_id": "p-boot", "position": i, "image_id": f"img-{i}", "filename": f"{i}.jpg",
             "url": f"https://cdn.example.com/boot-{i}.jpg", "download_url": None, "size": 10, "updated_at": None}
            for i in range(3)
        ]
    )  # fmt: skip
    return FeedSlice(
        offers=model.frame("offers", offers),
        products=model.frame("products", products),
        prices=model.frame("prices", prices),
        purchase_prices=model.empty_frame("purchase_prices"),
        stock=model.empty_frame("stock"),
        images=model.frame("images", images),
        main_price_type=MAIN,
        channel_stock=model.frame("stock", channel_stock),
        price_codes={MAIN: "price", OLD: "oldprice"},
        offer_keys=offer_keys or {},
    )
