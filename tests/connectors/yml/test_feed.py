"""The YML feed of a catalog with every case, read back by the strict portal: what a portal shows."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.yml.capabilities.feed import YmlFeed, YmlPrices, YmlStock
from connectors.yml.convert.catalog_feed import ROOT, GroupNumbers, category_number
from connectors.yml.convert.yml import YmlCategory, YmlOffer, YmlShop, write_yml
from connectors.yml.sandbox.portal import YmlCatalog, YmlError, check_yml
from connectors.yml.sandbox.sample import MAIN, OLD, sample_categories, sample_slice
from connectors.yml.settings import YmlSettings

SETTINGS = YmlSettings.model_validate(
    {"system": "yml", "base_url": "https://shop.example.com", "outlets": ("1", "2"), "pictures": 2}
)
KEYS = {o: f"hub-{o}" for o in ("v-38", "v-39", "p-cap", "p-fit", "p-set")}


def write_sample(path: Path) -> YmlCatalog:
    feed = YmlFeed(SETTINGS)
    written = feed.write_feed(
        path, shop_name="Обувь & Ко", company="ООО Обувь", categories=sample_categories(),
        items=feed.feed_items(sample_slice(KEYS)),
    )  # fmt: skip
    catalog = check_yml(path.read_bytes())
    assert written == len(catalog.offers) == 5
    return catalog


def test_the_sample_catalog_passes_the_strict_check_with_everything_a_portal_shows(tmp_path: Path) -> None:
    catalog = write_sample(tmp_path / "shop.xml")
    assert catalog.shop == {"name": "Обувь & Ко", "company": "ООО Обувь", "url": "https://shop.example.com/"}
    assert catalog.currencies == {"RUB": "1"}
    # the folder tree as numbers, the archived folder left out, the parent kept
    root, kids = category_number("f-root"), category_number("f-kids")
    shop = category_number(ROOT)  # declared for items in no folder, named after the shop
    assert set(catalog.categories) == {shop, root, kids} and catalog.categories[kids] == ("Детская обувь", root)
    assert catalog.categories[shop] == ("Обувь & Ко", None)
    offers = catalog.offers
    assert set(offers) == set(KEYS.values()), "offer ids are the hub's keys"
    boot38, boot39 = offers["hub-v-38"], offers["hub-v-39"]
    # variants share one group, carry their characteristics, the product's pictures (up to 2) and weight
    assert boot38.group_id == boot39.group_id and boot38.group_id is not None
    assert boot38.params == {"Размер": (None, "38"), "Цвет": (None, "чёрный"), "Вес": ("кг", "0.8")}
    assert boot38.pictures == ("https://cdn.example.com/boot-0.jpg", "https://cdn.example.com/boot-1.jpg")
    assert boot38.vendor == "Топ & Ко" and boot38.vendor_code == "B-1" and boot38.category_id == kids
    # prices from the mapped types; an old price only when above the price
    assert boot38.price == Decimal("4500") and boot38.old_price == Decimal("5000")
    assert offers["hub-p-cap"].price == Decimal("999.5") and offers["hub-p-cap"].old_price is None
    # stock per outlet and in all; sold out is unavailable; a bundle counts; a service has no count
    assert (boot38.count, boot38.outlets, boot38.available) == (3, {"1": 3, "2": 0}, True)
    assert (boot39.count, boot39.available) == (0, False)
    assert offers["hub-p-cap"].outlets == {"1": 5, "2": 7} and offers["hub-p-cap"].count == 12
    assert offers["hub-p-set"].count == 1 and offers["hub-p-set"].available
    assert offers["hub-p-fit"].count is None and offers["hub-p-fit"].available and not offers["hub-p-fit"].outlets


def test_mapped_portal_categories_are_used_as_they_are() -> None:
    assert category_number("1293") == "1293"
    assert category_number("f-root") == category_number("f-root") and category_number("f-root").isdigit()
    assert len(category_number("f-root")) <= 18


def test_group_numbers_are_stable_and_unique_within_a_feed() -> None:
    first, second = GroupNumbers(), GroupNumbers()
    ids = [f"product-{i}" for i in range(20_000)]
    numbers = [first(p) for p in ids]
    assert len(set(numbers)) == len(ids) and all(len(n) <= 9 for n in numbers)
    assert [second(p) for p in ids] == numbers


def test_stock_and_price_entries_name_the_offer_the_feed_carries() -> None:
    part = sample_slice()
    assert part.channel_stock is not None
    stock = YmlStock(SETTINGS).stock_entries(part.channel_stock)
    assert {"offer": "p-cap", "outlets": {"1": 5.0, "2": 7.0}} in stock
    prices = YmlPrices(SETTINGS).price_entries(part.prices, {MAIN: "price", OLD: "oldprice"})
    assert {"offer": "v-38", "prices": {"price": 450000, "oldprice": 500000}} in prices


GOOD = YmlOffer(id="a-1", name="Кепка", available=True, price=Decimal("10"), currency="RUB", category_id="1")


@pytest.mark.parametrize(
    ("offer", "problem"),
    [
        (YmlOffer(**{**GOOD.__dict__, "id": "a b"}), "id must be"),
        (YmlOffer(**{**GOOD.__dict__, "id": "x" * 81}), "id must be"),
        (YmlOffer(**{**GOOD.__dict__, "price": None}), "has no <price>"),
        (YmlOffer(**{**GOOD.__dict__, "price": Decimal("0")}), "price is not a positive"),
        (YmlOffer(**{**GOOD.__dict__, "category_id": "7"}), "categoryId '7' is not a category"),
        (YmlOffer(**{**GOOD.__dict__, "currency": "USD"}), "currencyId 'USD' is not declared"),
        (YmlOffer(**{**GOOD.__dict__, "group_id": "1234567890"}), "group_id"),
        (YmlOffer(**{**GOOD.__dict__, "name": "я" * 151}), "name must be"),
        (YmlOffer(**{**GOOD.__dict__, "pictures": ("ftp://x/y.jpg",)}), "is not an http(s) URL"),
        (YmlOffer(**{**GOOD.__dict__, "outlets": (("1", 2), ("1", 3))}), "listed twice"),
    ],
)
def test_the_strict_check_refuses_what_the_format_forbids(tmp_path: Path, offer: YmlOffer, problem: str) -> None:
    path = tmp_path / "bad.xml"
    shop = YmlShop("Shop", "Company", "https://shop.example.com", "RUB")
    write_yml(path, shop=shop, categories=[YmlCategory("1", "Кепки")], offers=[GOOD, offer])
    with pytest.raises(YmlError) as refused:
        check_yml(path.read_bytes())
    assert any(problem in p for p in refused.value.problems), refused.value.problems


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t.replace('<currency id="RUB" rate="1"/>', '<currency id="RUB" rate="2"/>'), "rate"),
        (lambda t: t.replace('<category id="1">', '<category id="1" parentId="1">'), "own ancestor"),
        (lambda t: t.replace('<category id="1">', '<category id="abc">'), "positive integer"),
        (lambda t: t.replace("<url>https://shop.example.com</url>\n", ""), "has no <url>"),
        (lambda t: t.replace('date="', 'date="yesterday '), "date"),
        (lambda t: t.replace("<name>Кепка</name>", "<name>Кепка</name><colour>red</colour>"), "does not know"),
        (lambda t: t.replace("</offers>", "</offer>"), "not well-formed"),
    ],
)
def test_the_strict_check_refuses_a_broken_shop(tmp_path: Path, edit: object, problem: str) -> None:
    path = tmp_path / "bad.xml"
    shop = YmlShop("Shop", "Company", "https://shop.example.com", "RUB")
    write_yml(path, shop=shop, categories=[YmlCategory("1", "Кепки")], offers=[GOOD])
    check_yml(path.read_bytes())  # the unbroken one passes
    text = edit(path.read_text(encoding="utf-8"))  # type: ignore[operator]
    with pytest.raises(YmlError) as refused:
        check_yml(text.encode())
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_the_writer_streams_in_bounded_memory(tmp_path: Path) -> None:
    def offers(n: int) -> Iterator[YmlOffer]:
        for i in range(n):
            yield YmlOffer(
                id=f"offer-{i}", name=f"Товар {i}", available=True, price=Decimal(i + 1), currency="RUB",
                category_id="1", count=i % 7, outlets=(("1", i % 7),), params=(("Размер", "", str(i % 50)),),
            )  # fmt: skip

    shop = YmlShop("Shop", "Company", "https://shop.example.com", "RUB")
    tracemalloc.start()
    written = write_yml(tmp_path / "big.xml", shop=shop, categories=[YmlCategory("1", "Всё")], offers=offers(30_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert written == 30_000
    assert peak < 5 * 1024 * 1024, f"writer peak {peak / 1e6:.1f} MB: it must not hold the offers"
    tracemalloc.start()
    catalog = check_yml(tmp_path / "big.xml")
    tracemalloc.stop()
    assert len(catalog.offers) == 30_000


def test_a_write_that_fails_leaves_the_previous_feed_whole(tmp_path: Path) -> None:
    path = tmp_path / "shop.xml"
    write_sample(path)
    before = path.read_bytes()

    def breaking() -> Iterator[YmlOffer]:
        yield GOOD
        raise RuntimeError("the catalog read failed half-way")

    shop = YmlShop("Shop", "Company", "https://shop.example.com", "RUB")
    with pytest.raises(RuntimeError):
        write_yml(path, shop=shop, categories=[YmlCategory("1", "Кепки")], offers=breaking())
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
