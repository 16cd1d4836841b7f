"""Wire → canonical frames, parsed from the verbatim samples, and canonical → MoySklad payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from connectors.moysklad.convert import catalog as convert
from connectors.moysklad.convert.orders import sync_id_for
from hub import model
from tests.connectors.moysklad.conftest import sample


def _conforms(kind: str, df: pd.DataFrame) -> None:
    assert list(df.columns) == list(model.FRAMES[kind])
    pd.testing.assert_frame_equal(df, model.conform(kind, df))


def test_parse_moscow_to_utc() -> None:
    assert convert.parse_moscow("2026-03-25 17:44:31.829") == datetime(2026, 3, 25, 14, 44, 31, 829000, tzinfo=UTC)
    assert convert.parse_moscow("2016-06-07 10:45:16") == datetime(2016, 6, 7, 7, 45, 16, tzinfo=UTC)
    assert convert.parse_moscow("2026-01-01 00:30") == datetime(2025, 12, 31, 21, 30, tzinfo=UTC)


def test_assortment_page_sample_to_frames() -> None:
    rows = sample("assortment_page.json")["rows"]
    frames = convert.assortment_to_frames(rows)
    for kind, df in frames.items():
        _conforms(kind, df)
    kinds = dict(zip(frames["products"]["product_id"], frames["products"]["kind"], strict=True))
    assert set(kinds.values()) <= {"product", "service", "bundle"}
    assert frames["prices"]["amount"].dtype == "Int64"
    assert frames["products"]["updated_at"].dt.tz is not None


def test_product_and_variant_samples() -> None:
    product, variant = sample("product.json"), sample("variant.json")
    frames = convert.assortment_to_frames([variant, product])
    offer = frames["offers"].set_index("offer_id").loc[variant["id"]]
    assert offer["kind"] == "variant"
    assert offer["characteristics"] == "; ".join(f"{c['name']}={c['value']}" for c in variant["characteristics"])
    prices = frames["prices"]
    assert set(prices[prices["offer_id"] == variant["id"]]["price_type_id"]) == {
        p["priceType"]["id"] for p in variant["salePrices"]
    }
    product_price = product["salePrices"][0]["value"]
    assert round(product_price) in set(prices["amount"].dropna())


def test_variant_without_sale_prices_inherits_from_product_in_any_order() -> None:
    product: dict[str, Any] = {
        "meta": {"type": "product"},
        "id": "p1",
        "name": "Кеды",
        "variantsCount": 1,
        "salePrices": [
            {
                "value": 123456.0,
                "priceType": {"id": "pt1"},
                "currency": {"meta": {"href": "https://api.moysklad.ru/api/remap/1.2/entity/currency/rub"}},
            }
        ],
        "buyPrice": {"value": 50000.0},
    }
    variant: dict[str, Any] = {
        "meta": {"type": "variant"},
        "id": "v1",
        "name": "Кеды (42)",
        "product": {"meta": {"href": "https://api.moysklad.ru/api/remap/1.2/entity/product/p1"}},
        "characteristics": [{"name": "Размер", "value": "42"}],
    }
    for rows in ([variant, product], [product, variant]):
        frames = convert.assortment_to_frames(rows)
        assert list(frames["offers"]["offer_id"]) == ["v1"]  # the product itself is not an offer
        price = frames["prices"].iloc[0]
        assert (price["offer_id"], price["price_type_id"], price["amount"], price["currency_id"]) == (
            "v1",
            "pt1",
            123456,
            "rub",
        )
        assert frames["purchase_prices"].iloc[0]["amount"] == 50000
    lonely = convert.assortment_to_frames([variant])
    assert lonely["prices"].empty


def test_price_types_stock_and_images_samples() -> None:
    _conforms("price_types", convert.price_types_to_frame(sample("pricetypes.json")))
    stock = convert.stock_to_frame(sample("stock_bystore_current_freestock.json"), "freeStock")
    _conforms("stock", stock)
    assert stock["store_id"].isna().sum() == 1
    assert stock["available"].tolist() == [4.0, 7.0, -5.0, 46.0]
    all_stock = convert.stock_to_frame(sample("stock_all_current.json"), "stock")
    assert all_stock["store_id"].isna().all()


def test_stock_report_keeps_one_string_per_distinct_id() -> None:
    # as a JSON parser gives them: a new string object for every occurrence of an id
    rows = [
        {"assortmentId": "".join(["offer-", str(n % 2)]), "storeId": "".join(["store-", str(n // 2)]), "stock": n}
        for n in range(4)
    ]
    assert rows[0]["assortmentId"] is not rows[2]["assortmentId"]
    stock = convert.stock_to_frame(iter(rows), "stock")
    offers, stores = list(stock["offer_id"]), list(stock["store_id"])
    assert offers == ["offer-0", "offer-1", "offer-0", "offer-1"]
    assert stores == ["store-0", "store-0", "store-1", "store-1"]
    assert offers[0] is offers[2] and offers[1] is offers[3]
    assert stores[0] is stores[1] and stores[2] is stores[3]
    assert stock["available"].tolist() == [0.0, 1.0, 2.0, 3.0]
    rows = sample("product_images.json")["rows"]
    images = convert.images_to_frame({"p": rows})
    _conforms("images", images)
    # fetched without fields=downloadPermanentHref (or on a free tariff): no link a channel can load
    assert images["url"].isna().all() and images["download_url"].str.contains("/download/").all()
    assert images["position"].tolist() == [0, 1]
    permanent = [
        {**img, "meta": {**img["meta"], "downloadPermanentHref": f"https://cdn.example/{n}.jpg"}}
        for n, img in enumerate(rows)
    ]
    assert convert.images_to_frame({"p": permanent})["url"].tolist() == [
        "https://cdn.example/0.jpg",
        "https://cdn.example/1.jpg",
    ]


def test_order_and_customer_payloads() -> None:
    order = {
        "order_id": "o-17",
        "number": "A-17",
        "site": "shop",
        "created_at": pd.Timestamp("2026-11-20 09:00Z"),
        "comment": "позвонить",
        "manager_comment": "упаковать в подарок",
        "external_id": None,
        "delivery_address": "Москва",
    }
    lines = [
        {"offer_id": "v1", "quantity": 2.0, "price": 10000, "discount": 2000, "vat_rate": 20},
        {"offer_id": "p2", "quantity": 1.0, "price": 5000, "discount": None, "vat_rate": None},
    ]
    payload = convert.order_to_payload(
        order,
        lines,
        base_url="https://x/api/remap/1.2",
        organization_id="org",
        agent_id="cp",
        store_id="st",
        offer_types={"v1": "variant"},
        reserve=True,
    )
    assert (
        payload["syncId"]
        == sync_id_for("shop:o-17")
        == convert.order_to_payload(order, [], base_url="https://x", organization_id="o", agent_id="a")["syncId"]
    )
    assert payload["externalCode"] == "o-17"
    assert payload["description"] == "позвонить\nКомментарий менеджера: упаковать в подарок"
    assert payload["moment"] == "2026-11-20 12:00:00"
    first = payload["positions"][0]
    assert (first["price"], first["discount"], first["reserve"]) == (10000.0, 10.0, 2.0)
    by_status = convert.order_to_payload(
        order,
        [{**lines[0], "reserve": False}, lines[1]],
        base_url="https://x",
        organization_id="o",
        agent_id="a",
        store_id="s",
        reserve=True,
    )
    assert [p.get("reserve") for p in by_status["positions"]] == [None, 1.0]  # the hub said: not this line
    assert first["assortment"]["meta"]["href"] == "https://x/api/remap/1.2/entity/variant/v1"
    customer = {
        "customer_id": "c1",
        "company_type": "individual",
        "name": None,
        "first_name": "Иван",
        "last_name": "Петров",
        "phone": "+79990000000",
        "email": "i@p.ru",
        "inn": None,
    }
    body = convert.customer_to_payload(
        customer,
        accounts=[{"accountNumber": "40817810000000000001"}],
        contact_person={"name": "Иван", "phone": "+79990000000"},
    )
    assert body["name"] == "Петров Иван"
    assert body["legalFirstName"] == "Иван" and "inn" not in body
    assert body["accounts"][0]["accountNumber"].startswith("408")


def test_customer_order_sample_to_frames() -> None:
    order = sample("customerorder_expand_positions.RECONSTRUCTED.json")
    states = {s["id"]: s["name"] for s in sample("customerorder_metadata.json")["states"]}
    frames = convert.orders_to_frames([order], states)
    _conforms("orders", frames["orders"])
    _conforms("order_lines", frames["order_lines"])
    assert frames["orders"].iloc[0]["total"] == round(order["sum"])
    assert len(frames["order_lines"]) == len(order["positions"]["rows"])


def test_counterparty_and_folder_samples_have_the_fields_we_read() -> None:
    cp = sample("counterparty.json")
    assert {"companyType", "inn", "name"} <= set(cp)
    folders = convert.folders_to_frame(
        [
            {
                "id": "f1",
                "name": "Овощи",
                "pathName": "Еда",
                "updated": "2016-06-07 15:42:07",
                "productFolder": {"meta": {"href": "https://a/entity/productfolder/f0"}},
            }
        ]
    )
    _conforms("categories", folders)
    assert folders.iloc[0]["path"] == "Еда/Овощи" and folders.iloc[0]["parent_id"] == "f0"
