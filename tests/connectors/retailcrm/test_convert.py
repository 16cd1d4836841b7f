"""Canonical frames ⇄ retailCRM wire values: money exact, stock summed and never negative."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from connectors.retailcrm.convert.catalog import (
    customer_from_crm,
    customer_to_crm,
    kopecks_to_units,
    stock_from_crm,
    stock_to_inventories,
    units_to_kopecks,
)
from connectors.retailcrm.convert.orders import format_crm_datetime, parse_crm_datetime
from hub.model import frame

from .conftest import sample


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_money_round_trips_exactly_through_the_wire(kopecks: int) -> None:
    units = kopecks_to_units(kopecks)
    wire = json.loads(json.dumps(units))  # what the CRM receives
    assert Decimal(str(wire)) == Decimal(kopecks) / 100
    assert units_to_kopecks(wire) == kopecks


def test_units_from_the_wire() -> None:
    assert units_to_kopecks(272.64) == 27264 and units_to_kopecks("1234.5") == 123450
    assert units_to_kopecks(0.1 + 0.2) == 30 and units_to_kopecks(None) is None


def test_stock_sums_mapped_stores_fills_zeros_and_clamps_negatives() -> None:
    stock = frame(
        "stock",
        [
            {"offer_id": "a", "store_id": "ms1", "available": 2.0, "stock_type": "stock"},
            {"offer_id": "a", "store_id": "ms2", "available": 3.5, "stock_type": "stock"},
            {"offer_id": "a", "store_id": "ms3", "available": -4.0, "stock_type": "stock"},
            {"offer_id": "a", "store_id": "unmapped", "available": 100.0, "stock_type": "stock"},
            {"offer_id": "b", "store_id": "ms3", "available": None, "stock_type": "stock"},
        ],
    )
    out = stock_to_inventories(stock, store_map={"ms1": "main", "ms2": "main", "ms3": "spb"}, offer_key={"b": "ext-b"})
    assert out == [
        {"xmlId": "a", "stores": [{"code": "main", "available": 5.5}, {"code": "spb", "available": 0}]},
        {"externalId": "ext-b", "stores": [{"code": "main", "available": 0}, {"code": "spb", "available": 0}]},
    ]


@given(
    st.lists(
        st.tuples(
            st.sampled_from("abc"),
            st.sampled_from(["s1", "s2", "s3"]),
            st.floats(min_value=-50, max_value=50, allow_nan=False),
        ),
        max_size=30,
    )
)
def test_every_offer_gets_every_mapped_store_with_a_non_negative_value(rows: list[tuple[str, str, float]]) -> None:
    stock = frame("stock", [{"offer_id": o, "store_id": s, "available": a, "stock_type": "stock"} for o, s, a in rows])
    out = stock_to_inventories(stock, store_map={"s1": "x", "s2": "x", "s3": "y"})
    assert len(out) == len({o for o, _, _ in rows})
    for entry in out:
        assert [s["code"] for s in entry["stores"]] == ["x", "y"]
        assert all(s["available"] >= 0 for s in entry["stores"])


def test_inventories_sample_and_details_to_stock() -> None:
    offers = sample("retailcrm-store-inventories.response.json")["offers"]
    assert stock_from_crm(offers).empty  # no details, no per-store rows
    detailed = [{"id": 1, "stores": [{"store": "main12", "quantity": 3}]}]
    assert stock_from_crm(detailed)[["offer_id", "store_id", "available"]].values.tolist() == [["1", "main12", 3.0]]


def test_customers_both_ways() -> None:
    history = sample("retailcrm-customers-history.response.json")["history"]
    created = next(r["customer"] for r in history if r.get("created"))
    row = customer_from_crm(created).iloc[0]
    got = (row["customer_id"], row["first_name"], row["email"], row["company_type"])
    assert got == ("982", "Admin", "admin@mail.ru", "individual")
    wire = customer_to_crm(
        frame(
            "customers",
            [
                {
                    "customer_id": "ms-1",
                    "company_type": "legal",
                    "name": "ООО Ромашка",
                    "inn": "7700000000",
                    "phone": "+7900",
                }
            ],
        )
        .iloc[0]
        .to_dict()
    )
    assert wire["externalId"] == "ms-1" and wire["contragent"]["contragentType"] == "legal-entity"
    assert wire["phones"] == [{"number": "+7900"}]


def test_a_legal_entitys_bank_account_travels_with_the_customer() -> None:
    """retailCRM's contragent (BIK, bank, corrAccount, bankAccount) <-> the canonical bank columns."""
    bank = {
        "bankAccount": "40702810900000000001",
        "BIK": "044525225",
        "bank": "ПАО Сбербанк",
        "corrAccount": "30101810400000000225",
    }
    created = {
        "id": 7,
        "firstName": "Ирина",
        "contragent": {"contragentType": "legal-entity", "legalName": "ООО Ромашка", "INN": "7700000000", **bank},
    }
    row = customer_from_crm(created).iloc[0]
    assert (
        row["company_type"],
        row["name"],
        row["bank_account"],
        row["bank_bic"],
        row["bank_name"],
        row["bank_corr_account"],
    ) == ("legal", "ООО Ромашка", *bank.values())
    wire = customer_to_crm(row.to_dict())
    assert {k: wire["contragent"][k] for k in bank} == bank
    individual = customer_from_crm({"id": 8, "firstName": "Ада"}).iloc[0]
    assert pd.isna(individual["bank_account"]) and "contragent" not in customer_to_crm(individual.to_dict())


def test_account_local_times() -> None:
    ts = parse_crm_datetime("2021-02-25 17:05:06")
    assert ts == pd.Timestamp("2021-02-25 14:05:06", tz="UTC")
    assert format_crm_datetime(ts) == "2021-02-25 17:05:06"
