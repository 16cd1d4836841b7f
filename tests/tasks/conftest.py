"""A catalog run on a staged SQLite hub, for tasks that work on what the hub holds (no HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub import model
from hub.config import parse_config
from hub.store import Store, open_store
from tasks.catalog.run import CatalogRun, plan_catalog_run

BATCH = 5


def _config(tmp_path: Path) -> Any:
    return parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${SHOP_MS_TOKEN}"},
                        "crm": {
                            "system": "retailcrm",
                            "base_url": "https://x.retailcrm.ru",
                            "api_key": "${SHOP_CRM_KEY}",
                            "batch_size": BATCH,
                        },
                    },
                    "flows": {s: {"from": "ms", "to": "crm"} for s in ("catalog", "stock", "prices")},
                    "options": {"feed": {"dir": str(tmp_path / "feeds")}},
                }
            },
        },
        source=tmp_path / "skladbridge.yaml",
        require_secrets=False,
    )  # nothing is sent here


def stage_catalog(store: Store, products: int = 23) -> None:
    """Products with a folder, one with two variants, one service, one archived; prices, images."""
    rows = []
    for i in range(products):
        kind = "service" if i == 3 else "product"
        rows.append(
            {
                "product_id": f"p{i:02d}",
                "kind": kind,
                "name": f"Товар {i}",
                "category_id": "f1",
                "archived": i == 5,
                "vat_rate": 20,
            }
        )
    offers = [
        {
            "offer_id": r["product_id"],
            "product_id": r["product_id"],
            "kind": r["kind"],
            "name": r["name"],
            "archived": r["archived"],
            "article": f"A-{r['product_id']}",
        }
        for r in rows
        if r["product_id"] != "p07"
    ]
    offers += [
        {
            "offer_id": f"p07-v{n}",
            "product_id": "p07",
            "kind": "variant",
            "name": f"Товар 7 ({n})",
            "characteristics": f"Размер={40 + n}",
            "archived": False,
        }
        for n in (1, 2)
    ]
    prices = [
        {"offer_id": o["offer_id"], "price_type_id": pt, "amount": 1000 * (n + 1) + k, "currency_id": "rub"}
        for k, o in enumerate(offers)
        for n, pt in enumerate(("pt1", "pt2"))
    ]
    images = [
        {"owner_id": f"p{i:02d}", "position": pos, "url": f"https://img/{i}/{pos}"}
        for i in range(0, products, 4)
        for pos in range(2)
    ]
    records = store.records
    records.upsert_frame(
        "shop",
        "categories",
        "moysklad",
        model.frame("categories", [{"category_id": "f1", "name": "Обувь"}]),
        "category_id",
    )
    records.upsert_frame("shop", "products", "moysklad", model.frame("products", rows), "product_id")
    records.upsert_frame("shop", "offers", "moysklad", model.frame("offers", offers), "offer_id")
    records.upsert_frame("shop", "prices", "moysklad", model.frame("prices", prices), ["offer_id", "price_type_id"])
    records.upsert_frame(
        "shop",
        "purchase_prices",
        "moysklad",
        model.frame(
            "purchase_prices", [{"offer_id": o["offer_id"], "amount": 500, "currency_id": "rub"} for o in offers[::3]]
        ),
        "offer_id",
    )
    records.upsert_frame("shop", "images", "moysklad", model.frame("images", images), ["owner_id", "position"])


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[[str], CatalogRun]]:
    """``make_run(name)``: a run of integration ``shop`` on its own hub, with the catalog staged."""
    stores: list[Store] = []

    def make(name: str) -> CatalogRun:
        where = tmp_path / name
        where.mkdir()
        store = open_store(f"sqlite:///{where / 'hub.db'}")
        stores.append(store)
        stage_catalog(store)
        return plan_catalog_run(_config(where), "shop", store)

    yield make
    for store in stores:
        store.close()
