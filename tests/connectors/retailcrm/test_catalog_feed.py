"""Feed offers from canonical frames: stock items carry quantities, services do not."""

from __future__ import annotations

from connectors.retailcrm.convert.catalog_feed import icml_categories, icml_offers
from hub import model


def test_variants_carry_stock_and_services_do_not() -> None:
    offers = model.frame(
        "offers",
        [
            {"offer_id": "v1", "product_id": "p1", "kind": "variant", "name": "Shirt (red)", "archived": False},
            {"offer_id": "s1", "product_id": "s1", "kind": "service", "name": "Gift wrap", "archived": False},
        ],
    )
    products = model.frame(
        "products",
        [
            {"product_id": "p1", "kind": "product", "name": "Shirt"},
            {"product_id": "s1", "kind": "service", "name": "Gift wrap"},
        ],
    )
    stock = model.frame(
        "stock",
        [
            {"offer_id": "v1", "store_id": "a", "available": 3.0, "stock_type": "freeStock"},
            {"offer_id": "v1", "store_id": "b", "available": 2.0, "stock_type": "freeStock"},
        ],
    )
    feed = {
        o.id: o
        for o in icml_offers(
            offers, products=products, prices=model.empty_frame("prices"), price_type_id="base", stock=stock
        )
    }
    assert feed["v1"].quantity == 5.0
    assert feed["v1"].product_name == "Shirt"
    assert feed["s1"].quantity is None


def test_archived_folders_are_left_out_of_the_feed() -> None:
    categories = model.frame(
        "categories",
        [
            {"category_id": "f-live", "name": "Shirts", "archived": False},
            {"category_id": "f-old", "name": "Last year", "archived": True},
            {"category_id": "f-unknown", "name": "Never said"},
        ],
    )
    assert [c.id for c in icml_categories(categories)] == ["f-live", "f-unknown"]
