"""Mappings are resolved by MoySklad id or name, and every problem is reported at once with its fix."""

from __future__ import annotations

import pytest

from hub import model
from hub.capabilities import ChannelReference
from tasks.mapping_check import CatalogMappings, MappingError, MappingRule, resolve_catalog_mappings, resolve_rule

STORES = model.frame(
    "stores",
    [
        {"store_id": "s1", "name": "Основной склад", "code": "S1", "archived": False},
        {"store_id": "s2", "name": "Склад 2", "code": "S2", "archived": False},
        {"store_id": "s3", "name": "Старый склад", "code": "S3", "archived": True},
    ],
)
PRICE_TYPES = model.frame(
    "price_types",
    [
        {"price_type_id": "p1", "name": "Цена продажи", "is_default": True},
        {"price_type_id": "p2", "name": "Оптовая цена", "is_default": False},
    ],
)
FOLDERS = model.frame(
    "categories",
    [
        {"category_id": "f1", "name": "Обувь", "path": "Обувь"},
        {"category_id": "f2", "name": "Кеды", "parent_id": "f1", "path": "Обувь/Кеды"},
    ],
)
CRM = ChannelReference(warehouses=["msk", "spb"], price_types={"base": True, "wholesale": False})


def resolve(mappings: dict, **kw: bool) -> CatalogMappings:
    return resolve_catalog_mappings(
        "main",
        mappings,
        stores=STORES,
        price_types=PRICE_TYPES,
        folders=FOLDERS,
        channel=CRM,
        need_stock=kw.get("stock", True),
        need_prices=kw.get("prices", True),
        source_title="MoySklad",
        channel_title="CRM",
    )


def test_names_and_ids_resolve_several_stores_summed_into_one() -> None:
    result = resolve(
        {
            "stores": {"Основной склад": "msk", "s2": "msk"},
            "price_types": {"Цена продажи": "base", "p2": "wholesale"},
            "categories": {"Обувь/Кеды": "crm-42"},
        }
    )
    assert result.store_map == {"s1": "msk", "s2": "msk"}
    assert result.price_type_map == {"p1": "base", "p2": "wholesale"}
    assert result.feed_price_type_id == "p1"  # mapped to the CRM's default price type
    assert result.category_map == {"f2": "crm-42"}


def test_every_problem_is_listed_with_what_to_map() -> None:
    with pytest.raises(MappingError) as info:
        resolve(
            {
                "stores": {"Основной склад": "moscow", "Склад 9": "msk"},
                "price_types": {"Цена розничная": "base"},
                "categories": {"Шапки": "1"},
            }
        )
    text = str(info.value)
    assert "'moscow' is not a CRM warehouse code; codes: ['msk', 'spb']" in text
    assert "'Склад 9' is not a MoySklad store" in text
    assert "'Склад 2' (id s2)" in text  # live store neither mapped nor left out
    assert "Старый склад" not in text.split("not mapped:")[1]  # archived stores need no mapping
    assert "'Цена розничная' is not a MoySklad price type" in text
    assert "'Шапки' is not a MoySklad category" in text
    assert len(info.value.problems) == 6


def test_null_leaves_a_store_out_and_unmapped_price_types_only_warn() -> None:
    result = resolve({"stores": {"s1": "spb", "Склад 2": None}, "price_types": {"p1": "base"}})
    assert result.store_map == {"s1": "spb"}
    assert any("Оптовая цена" in w for w in result.warnings)


def test_stock_and_prices_mappings_are_required_only_when_those_flows_are_on() -> None:
    assert resolve({}, stock=False, prices=False).store_map == {}
    with pytest.raises(MappingError, match="map at least one MoySklad price type"):
        resolve({"stores": {"s1": "msk", "s2": None}})


def test_the_channels_own_setting_problems_are_listed_with_the_mappings() -> None:
    channel = ChannelReference(
        warehouses=["msk"],
        price_types={"base": True},
        problems=["site 'shop' is not a site of this account; its sites: ['demo']"],
    )
    with pytest.raises(MappingError) as info:
        resolve_catalog_mappings(
            "main",
            {"stores": {"s9": "msk"}},
            stores=STORES,
            price_types=PRICE_TYPES,
            folders=FOLDERS,
            channel=channel.with_problems_of("crm"),
            need_stock=False,
            need_prices=False,
        )
    assert info.value.problems[0] == "systems.crm: site 'shop' is not a site of this account; its sites: ['demo']"
    assert "'s9' is not a source store" in info.value.problems[1]


def test_a_one_to_one_rule_refuses_two_values_onto_one() -> None:
    """The shape the status mappings of the order exchanges take (the seeds demand 1:1 there)."""
    statuses = model.frame("stores", [{"store_id": "new", "name": "Новый"}, {"store_id": "paid", "name": "Оплачен"}])
    rule = MappingRule(
        "statuses",
        "MoySklad state",
        statuses,
        "store_id",
        ("name",),
        ["new", "complete"],
        "CRM status",
        one_to_one=True,
        complete=True,
        hint="map each state",
    )
    problems: list[str] = []
    resolved = resolve_rule(rule, {"Новый": "new", "Оплачен": "new"}, problems)
    assert resolved.mapped == {"new": "new", "paid": "new"}
    assert problems == ["mappings.statuses: 'new' and 'paid' both map to 'new'; each must map to its own value"]
