"""Deterministic catalog generator: seeds a sandbox with a realistic MoySklad account of any size.

Same arguments, same account: ids, names, prices, folders, images and stock all come from one
seeded random generator and a fixed base date, so tests can assert exact counts and values.
Opening stock is seeded as ``enter`` documents and expected deliveries as purchase orders, so the
stock report is computed from documents exactly like every later movement.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.moysklad.sandbox.bundles import add_bundle
from connectors.moysklad.sandbox.state import (
    STORE_BASE,
    Json,
    SandboxStore,
    collection_meta,
    entity_meta,
    pricetype_meta,
    ref,
    state_meta,
)

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

BASE_DATE = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
UOM_PIECE = {
    "meta": {
        "href": f"{STORE_BASE}/entity/uom/19f1edc0-fc42-4001-94cb-c9ec9c62ec10",
        "metadataHref": f"{STORE_BASE}/entity/uom/metadata",
        "type": "uom",
        "mediaType": "application/json",
    }
}
WORDS = ("Чай", "Кофе", "Кружка", "Футболка", "Кеды", "Рюкзак", "Лампа", "Плед", "Блокнот", "Зонт")
COLORS = ("красный", "синий", "чёрный", "белый", "зелёный")
SIZES = ("S", "M", "L", "XL")
STATES = (
    ("Новый", "Regular", 15280409),
    ("Подтвержден", "Regular", 40931),
    ("Собран", "Regular", 8825440),
    ("Отгружен", "Successful", 34617),
    ("Отменен", "Unsuccessful", 10774205),
)


def seed_catalog(
    sandbox: Account,
    products: int,
    *,
    variants_ratio: float = 0.2,
    stores: int = 3,
    price_types: int = 2,
    folders: int | None = None,
    images_ratio: float = 0.3,
    bundles_ratio: float = 0.0,
    seed: int = 0,
) -> None:
    """Fill ``sandbox`` with a generated account.

    Args:
        sandbox: the sandbox to fill (its store should be empty).
        products: number of products.
        variants_ratio: variants per product on average; variant-bearing products get 2 each.
        stores: number of warehouses.
        price_types: number of sale price types (the first is the default "Цена продажи").
        folders: number of product folders (a tree up to 3 levels); default ~1 per 50 products.
        images_ratio: share of products (and of variants) that have 1–3 images.
        bundles_ratio: bundles per product, each made of 2–3 offers (variantless products and
            variants), 1–3 of each, now and then half a unit; bundles have no images and no stock.
        seed: seed of the generator; the same seed gives the same account.
    """
    rng = random.Random(seed)
    store = sandbox.store
    new_id = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    at = BASE_DATE

    cur_ids = _currencies(store, new_id, at)
    rub = ref("currency", cur_ids[0])
    store.price_types = [
        {"meta": pricetype_meta(pid), "id": pid, "name": name, "externalCode": new_id()}
        for pid, name in ((new_id(), n) for n in _price_type_names(price_types))
    ]
    store.characteristics = [
        {
            "meta": {
                "href": f"{STORE_BASE}/entity/variant/metadata/characteristics/{cid}",
                "type": "attributemetadata",
                "mediaType": "application/json",
            },
            "id": cid,
            "name": name,
            "type": "string",
            "required": False,
        }
        for cid, name in ((new_id(), "Цвет"), (new_id(), "Размер"))
    ]
    store.states = [
        {
            "meta": state_meta(sid),
            "id": sid,
            "accountId": store.account_id,
            "name": name,
            "color": color,
            "stateType": kind,
            "entityType": "customerorder",
        }
        for sid, (name, kind, color) in ((new_id(), s) for s in STATES)
    ]
    store_ids = [
        store.put(
            "store",
            {
                "id": new_id(),
                "name": "Основной склад" if i == 0 else f"Склад {i + 1}",
                "code": f"S{i + 1}",
                "externalCode": f"store-{i + 1}",
                "archived": False,
                "pathName": "",
                "address": f"Москва, ул. {i + 1}",
            },
            updated=at,
        )["id"]
        for i in range(stores)
    ]
    org_id = new_id()
    store.put(
        "organization",
        {
            "id": org_id,
            "_accounts": _org_accounts(org_id),
            "name": "ООО Ромашка",
            "companyType": "legal",
            "legalTitle": "Общество с ограниченной ответственностью «Ромашка»",
            "inn": "7736207543",
            "kpp": "773601001",
            "email": "shop@example.ru",
            "phone": "+7 495 000-00-00",
            "archived": False,
            "externalCode": "org-1",
        },
        updated=at,
    )
    folder_ids = _folders(store, new_id, folders if folders is not None else max(1, products // 50), rng, at)

    n_variants = round(products * variants_ratio)
    with_variants = set(range(min(products, (n_variants + 1) // 2)))
    offers: list[str] = []
    for i in range(products):
        pid = new_id()
        folder = folder_ids[rng.randrange(len(folder_ids))] if folder_ids else None
        prices = _sale_prices(store.price_types, rng.randrange(100, 500_000) * 100, rub)
        obj: Json = {
            "id": pid,
            "shared": False,
            "name": f"{WORDS[i % len(WORDS)]} {i + 1}",
            "code": f"P{i + 1:06d}",
            "externalCode": f"ext-{i + 1}",
            "archived": rng.random() < 0.03,
            "pathName": "",
            "useParentVat": True,
            "vat": 20,
            "vatEnabled": True,
            "effectiveVat": 20,
            "effectiveVatEnabled": True,
            "uom": UOM_PIECE,
            "article": f"ART-{i + 1}",
            "weight": round(rng.uniform(0.1, 5), 3),
            "volume": 0,
            "salePrices": prices,
            "buyPrice": {"value": float(prices[0]["value"] // 2), "currency": rub},
            "minPrice": {"value": 0.0, "currency": rub},
            "barcodes": [{"ean13": f"46{rng.randrange(10**10, 10**11)}"}],
            "variantsCount": 2 if i in with_variants else 0,
            "isSerialTrackable": False,
            "discountProhibited": False,
            "paymentItemType": "GOOD",
            "trackingType": "NOT_TRACKED",
        }
        if folder:
            obj["productFolder"] = ref("productfolder", folder)
            obj["pathName"] = store.get("productfolder", folder)["_path"]  # type: ignore[index]
        _add_images(store, "product", obj, rng, images_ratio, new_id, at)
        store.put("product", obj, updated=at + timedelta(seconds=i))
        if i in with_variants:
            for v in range(2):
                offers.append(_variant(store, obj, v, rng, new_id, images_ratio, at + timedelta(seconds=i)))
        else:
            offers.append(pid)
    _opening_stock(sandbox, offers, store_ids, rng, new_id, at)
    if bundles_ratio > 0:
        _bundles(store, round(products * bundles_ratio), offers, rub, seed, at + timedelta(seconds=products))


def _price_type_names(n: int) -> list[str]:
    names = ["Цена продажи", "Оптовая цена", "Цена для друзей", "Маркетплейс"]
    return (names + [f"Цена {i}" for i in range(len(names) + 1, n + 1)])[:n]


def _currencies(store: SandboxStore, new_id: Any, at: datetime) -> list[str]:
    rows = (
        ("руб", "Российский рубль", "643", "RUB", True, 1.0),
        ("USD", "Доллар США", "840", "USD", False, 81.5),
        ("EUR", "Евро", "978", "EUR", False, 94.2),
    )
    return [
        store.put(
            "currency",
            {
                "id": new_id(),
                "system": True,
                "name": name,
                "fullName": full,
                "rate": rate,
                "multiplicity": 1,
                "indirect": False,
                "rateUpdateType": "manual",
                "code": code,
                "isoCode": iso,
                "archived": False,
                "default": default,
            },
            updated=at,
        )["id"]
        for name, full, code, iso, default, rate in rows
    ]


def _folders(store: SandboxStore, new_id: Any, n: int, rng: random.Random, at: datetime) -> list[str]:
    ids: list[str] = []
    for i in range(n):
        parent = ids[rng.randrange(len(ids))] if ids and i % 3 else None
        parent_obj = store.get("productfolder", parent) if parent else None
        if parent_obj and parent_obj["_path"].count("/") >= 2:
            parent, parent_obj = None, None
        path = (
            ""
            if parent_obj is None
            else (f"{parent_obj['_path']}/{parent_obj['name']}" if parent_obj["_path"] else parent_obj["name"])
        )
        obj: Json = {
            "id": new_id(),
            "name": f"Группа {i + 1}",
            "code": f"F{i + 1}",
            "externalCode": f"folder-{i + 1}",
            "archived": i % 29 == 28,
            "pathName": path,
            "useParentVat": True,
            "vatEnabled": False,
            "_path": path,
        }
        if parent:
            obj["productFolder"] = ref("productfolder", parent)
        ids.append(store.put("productfolder", obj, updated=at)["id"])
    # products reference only live folders (a product in an archived folder is an edge case
    # tests build explicitly)
    return [f for f in ids if not store.entities["productfolder"][f]["archived"]]


def _sale_prices(price_types: list[Json], base: int, currency: Json) -> list[Json]:
    return [
        {
            "value": float(base - base * k // 10),
            "currency": currency,
            "priceType": {"meta": pt["meta"], "id": pt["id"], "name": pt["name"], "externalCode": pt["externalCode"]},
        }
        for k, pt in enumerate(price_types)
    ]


def _add_images(
    store: SandboxStore, type_: str, obj: Json, rng: random.Random, ratio: float, new_id: Any, at: datetime
) -> None:
    count = rng.randint(1, 3) if rng.random() < ratio else 0
    images: list[Json] = []
    for k in range(count):
        iid = new_id()
        images.append(
            {
                "meta": {
                    "href": f"{STORE_BASE}/entity/{type_}/{obj['id']}/images/{iid}",
                    "type": "image",
                    "mediaType": "application/json",
                    "downloadHref": f"{STORE_BASE}/download/{iid}",
                },
                "title": f"{obj['code']}-{k + 1}",
                "filename": f"{obj['code']}-{k + 1}.jpg",
                "size": rng.randrange(10_000, 400_000),
                "updated": "2026-01-10 12:00:00.000",
                "miniature": {
                    "href": f"{STORE_BASE}/download/{iid}?miniature=true",
                    "type": "image",
                    "mediaType": "image/jpeg",
                },
                "tiny": {
                    "href": f"https://online.moysklad.ru/static/tinyimage/{iid}/t.jpg",
                    "type": "image",
                    "mediaType": "image/jpeg",
                },
            }
        )
    if images:
        store.images[obj["id"]] = images
    obj["images"] = {"meta": collection_meta(f"{STORE_BASE}/entity/{type_}/{obj['id']}/images", "image", len(images))}


def _variant(
    store: SandboxStore, product: Json, v: int, rng: random.Random, new_id: Any, images_ratio: float, at: datetime
) -> str:
    color, size = COLORS[rng.randrange(len(COLORS))], SIZES[v % len(SIZES)]
    chars = [
        {"meta": c["meta"], "id": c["id"], "name": c["name"], "value": value}
        for c, value in zip(store.characteristics, (color, size), strict=True)
    ]
    obj: Json = {
        "id": new_id(),
        "name": f"{product['name']} ({color}, {size})",
        "code": f"{product['code']}-{v + 1}",
        "externalCode": f"{product['externalCode']}-{v + 1}",
        "archived": product["archived"],
        "characteristics": chars,
        "discountProhibited": False,
        "product": {"meta": entity_meta("product", product["id"])},
        "barcodes": [{"ean13": f"47{rng.randrange(10**10, 10**11)}"}],
    }
    if v == 1:  # every second variant has its own prices; the others inherit the product's
        own = product["salePrices"][0]["currency"]
        obj["salePrices"] = _sale_prices(store.price_types, int(product["salePrices"][0]["value"]) + 10_000, own)
    _add_images(store, "variant", obj, rng, images_ratio / 2, new_id, at)
    return str(store.put("variant", obj, updated=at)["id"])


def _bundles(store: SandboxStore, count: int, offers: list[str], currency: Json, seed: int, at: datetime) -> None:
    # a generator of their own: with or without bundles, the rest of the account is the same (ids,
    # prices, stock), so a bundles_ratio of 0 keeps every existing seed's account byte for byte
    rng = random.Random(f"bundles:{seed}")
    new_id = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    variants = store.of_type("variant")
    kinds = [("variant" if oid in variants else "product", oid) for oid in offers]
    for k in range(count if kinds else 0):
        parts = rng.sample(kinds, min(len(kinds), rng.randint(2, 3)))
        comps = [
            (t, oid, rng.choice((0.5, 1.5)) if rng.random() < 0.1 else float(rng.randint(1, 3))) for t, oid in parts
        ]
        price = _sale_prices(store.price_types, rng.randrange(500, 900_000) * 100, currency)
        fields: Json = {
            "shared": False,
            "name": f"Набор {k + 1}",
            "code": f"B{k + 1:06d}",
            "externalCode": f"bundle-{k + 1}",
            "archived": rng.random() < 0.03,
            "pathName": "",
            "useParentVat": True,
            "vat": 20,
            "vatEnabled": True,
            "effectiveVat": 20,
            "effectiveVatEnabled": True,
            "uom": UOM_PIECE,
            "article": f"SET-{k + 1}",
            "salePrices": price,
            "barcodes": [{"ean13": f"48{rng.randrange(10**10, 10**11)}"}],
            "discountProhibited": False,
            "paymentItemType": "GOOD",
            "trackingType": "NOT_TRACKED",
            "partialDisposal": False,
        }
        add_bundle(store, fields, comps, new_id=new_id, updated=at + timedelta(seconds=k))


def _opening_stock(
    sandbox: Account, offers: list[str], store_ids: list[str], rng: random.Random, new_id: Any, at: datetime
) -> None:
    store = sandbox.store
    for sid in store_ids:
        positions = [
            {"assortment": ref("product", aid), "quantity": rng.randrange(0, 60)}
            for aid in offers
            if rng.random() < 0.85
        ]
        doc = store.put(
            "enter",
            {
                "id": new_id(),
                "name": store.next_number("enter"),
                "applicable": True,
                "store": ref("store", sid),
                "_positions": positions,
            },
            updated=at,
        )
        sandbox.ledger.record("enter", doc, at)
    if store_ids and offers:
        waiting = [
            {"assortment": ref("product", aid), "quantity": rng.randrange(1, 20)}
            for aid in offers[:: max(1, len(offers) // 20)]
        ]
        doc = store.put(
            "purchaseorder",
            {
                "id": new_id(),
                "name": store.next_number("purchaseorder"),
                "applicable": True,
                "store": ref("store", store_ids[0]),
                "_positions": waiting,
            },
            updated=at,
        )
        sandbox.ledger.record("purchaseorder", doc, at)


def _org_accounts(org_id: str) -> list[Json]:
    """The organization's two settlement accounts (the first is its default); ids derive from the
    organization's, so seeding them draws nothing from the generator's random stream."""
    rows = []
    for n, (number, bank) in enumerate(
        (("40702810900000000001", "ПАО Сбербанк"), ("40702810500000000002", "АО Точка"))
    ):
        acc_id = str(uuid.uuid5(uuid.UUID(org_id), number))
        rows.append(
            {
                "meta": {
                    "href": f"{STORE_BASE}/entity/organization/{org_id}/accounts/{acc_id}",
                    "type": "account",
                    "mediaType": "application/json",
                },
                "id": acc_id,
                "isDefault": n == 0,
                "accountNumber": number,
                "bankName": bank,
                "bic": "044525225" if n == 0 else "044525104",
            }
        )
    return rows
