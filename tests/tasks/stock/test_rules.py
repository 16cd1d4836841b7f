"""The seed modules' stock rules, one table row each: what the channel is sent for what the source holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from hub import model
from hub.options import StockOptions
from tasks.stock.rules import StockRules, channel_stock

#: source stores s1, s2 summed into msk; s3 -> spb; s4 left out
STORES = {"s1": "msk", "s2": "msk", "s3": "spb"}
Levels = dict[str, dict[str | None, float]]


def _offers(kinds: dict[str, str]) -> Any:
    return model.frame(
        "offers", [{"offer_id": o, "product_id": o, "kind": k, "archived": False} for o, k in kinds.items()]
    )


def _stock(levels: Levels) -> Any:
    return model.frame(
        "stock",
        [
            {"offer_id": o, "store_id": s, "available": q, "stock_type": "freeStock"}
            for o, per in levels.items()
            for s, q in per.items()
        ],
    )


def _sent(
    kinds: dict[str, str],
    levels: Levels,
    rules: StockRules,
    components: Sequence[tuple[str, str, float]] = (),
    unavailable: frozenset[str] = frozenset(),
) -> dict[str, dict[str, float]]:
    parts = model.frame(
        "bundle_components", [{"offer_id": b, "component_id": c, "quantity": q} for b, c, q in components]
    )
    outcome = channel_stock(_offers(kinds), _stock(levels), rules, parts, unavailable)
    out: dict[str, dict[str, float]] = {}
    for offer, code, qty in zip(
        outcome.stock["offer_id"], outcome.stock["store_id"], outcome.stock["available"], strict=True
    ):
        out.setdefault(str(offer), {})[str(code)] = float(qty)
    return out


BASE = StockRules(STORES)
CASES: list[tuple[str, dict[str, Any], Levels, dict[str, dict[str, float]]]] = [
    (
        "stores mapped 1:1 and two summed into one warehouse",
        {},
        {"a": {"s1": 2, "s2": 3, "s3": 4}},
        {"a": {"msk": 5, "spb": 4}},
    ),
    ("a store mapped to nothing is left out", {}, {"a": {"s4": 9, "s3": 1}}, {"a": {"msk": 0, "spb": 1}}),
    (
        "an over-sold store counts as 0 and does not eat another's stock",
        {},
        {"a": {"s1": -4, "s2": 3}},
        {"a": {"msk": 3, "spb": 0}},
    ),
    ("nothing reported: an explicit 0 for every warehouse", {}, {}, {"a": {"msk": 0, "spb": 0}}),
    ("capped at 999 999", {}, {"a": {"s1": 2_000_000}}, {"a": {"msk": 999_999, "spb": 0}}),
    ("cap is an option", {"cap": 10}, {"a": {"s1": 12, "s3": 7}}, {"a": {"msk": 10, "spb": 7}}),
    (
        "store-less reserve is not counted unless a warehouse is named",
        {},
        {"a": {"s1": 5, None: -3}},
        {"a": {"msk": 5, "spb": 0}},
    ),
    (
        "store-less reserve taken from the named warehouse",
        {"storeless_from": "msk"},
        {"a": {"s1": 5, None: -3}},
        {"a": {"msk": 2, "spb": 0}},
    ),
    (
        "store-less reserve never makes a warehouse negative",
        {"storeless_from": "spb"},
        {"a": {"s3": 1, None: -3}},
        {"a": {"msk": 0, "spb": 0}},
    ),
    (
        "weighed goods keep their fraction for a channel that takes it",
        {},
        {"a": {"s1": 2.75}},
        {"a": {"msk": 2.75, "spb": 0}},
    ),
    (
        "weighed goods floored for a channel of whole units",
        {"whole_units": True},
        {"a": {"s1": 2.75, "s3": 0.5}},
        {"a": {"msk": 2, "spb": 0}},
    ),
    ("sold out is sent as 0 by default", {}, {"a": {"s1": 0, "s3": -1}}, {"a": {"msk": 0, "spb": 0}}),
    (
        "'do not zero stock': an item at or below 0 everywhere is left untouched",
        {"zero_sold_out": False},
        {"a": {"s1": 0, "s3": -1}, "b": {"s3": 1}},
        {"b": {"msk": 0, "spb": 1}},
    ),
]


@pytest.mark.parametrize(("rule", "options", "levels", "expected"), CASES, ids=[c[0] for c in CASES])
def test_plain_offers(
    rule: str, options: dict[str, Any], levels: Levels, expected: dict[str, dict[str, float]]
) -> None:
    kinds = {o: "product" for o in {*levels, *expected, "a"}}
    assert _sent(kinds, levels, StockRules(STORES, **options)) == expected


def test_services_are_never_sent_as_stock() -> None:
    assert _sent({"a": "product", "svc": "service"}, {"svc": {"s1": 5}}, BASE) == {"a": {"msk": 0, "spb": 0}}


BUNDLE_CASES: list[tuple[str, list[tuple[str, str, float]], Levels, frozenset[str], dict[str, float] | None]] = [
    (
        "min over components of floor(available / quantity)",
        [("k", "a", 2), ("k", "b", 1)],
        {"a": {"s1": 7, "s3": 4}, "b": {"s1": 2, "s3": 9}},
        frozenset(),
        {"msk": 2, "spb": 2},
    ),
    (
        "made of variants, one of them twice in the warehouse sum",
        [("k", "v1", 1), ("k", "v2", 3)],
        {"v1": {"s1": 1, "s2": 4}, "v2": {"s2": 10, "s3": 2}},
        frozenset(),
        {"msk": 3, "spb": 0},
    ),
    (
        "a fractional quantity (half a kilo per bundle)",
        [("k", "a", 0.5)],
        {"a": {"s1": 2.4}},
        frozenset(),
        {"msk": 4, "spb": 0},
    ),
    (
        "a component that is archived makes the bundle unavailable",
        [("k", "a", 1), ("k", "b", 1)],
        {"a": {"s1": 5}, "b": {"s1": 5}},
        frozenset({"b"}),
        {"msk": 0, "spb": 0},
    ),
    (
        "a component with no stock anywhere: 0",
        [("k", "a", 1), ("k", "b", 1)],
        {"a": {"s1": 5}},
        frozenset(),
        {"msk": 0, "spb": 0},
    ),
    ("components unknown: the bundle is left untouched, not zeroed", [], {"a": {"s1": 5}}, frozenset(), None),
]


@pytest.mark.parametrize(
    ("rule", "components", "levels", "unavailable", "expected"), BUNDLE_CASES, ids=[c[0] for c in BUNDLE_CASES]
)
def test_bundles(
    rule: str,
    components: list[tuple[str, str, float]],
    levels: Levels,
    unavailable: frozenset[str],
    expected: dict[str, float] | None,
) -> None:
    sent = _sent({"k": "bundle"}, levels, BASE, components, unavailable)
    assert sent.get("k") == expected


def test_a_bundle_is_capped_and_floored_like_any_offer() -> None:
    rules = StockRules(STORES, cap=3, whole_units=True)
    assert _sent({"k": "bundle"}, {"a": {"s1": 100}}, rules, [("k", "a", 1)]) == {"k": {"msk": 3, "spb": 0}}


def test_options_carry_the_seed_defaults() -> None:
    rules = StockRules.of(StockOptions(), STORES)
    assert (rules.measure, rules.cap, rules.zero_sold_out, rules.storeless_from, rules.whole_units) == (
        "freeStock",
        999_999,
        True,
        None,
        False,
    )
