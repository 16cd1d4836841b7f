"""When a move is due with the shipment, and what it moves (pure decisions: no hub, no HTTP)."""

from __future__ import annotations

from hub.capabilities import MOVE, ErpDocument, OrderPapers
from hub.options import DocumentOptions
from tasks.documents.due import Made, OrderFacts
from tasks.documents.moves import OrderStores, decide_moves, erp_store, move_key

OPTIONS = DocumentOptions(shipment_statuses=["send-to-delivery"], moves=True)
MAPPINGS: dict[str, dict[str, str | None]] = {
    "stores": {"Основной склад": "msk", "Склад 2": "msk", "Склад 3": "spb", "Склад 4": None},
    "order_stores": {"msk": "Основной склад", "kzn": "Склад 3", "off": None},
}
SHIPPED = OrderFacts("7", "erp-7", "7A", "delivering", frozenset({"send-to-delivery", "delivering"}), frozenset())
LINES = [
    {"line_no": 1, "offer_id": "a", "quantity": 1.0, "store_id": None},  # the order's store
    {"line_no": 2, "offer_id": "b", "quantity": 2.0, "store_id": "spb"},
    {"line_no": 3, "offer_id": "c", "quantity": 1.0, "store_id": "kzn"},  # another code of Склад 3
    {"line_no": 4, "offer_id": "b", "quantity": 1.0, "store_id": "spb"},  # the same item twice: summed
    {"line_no": 5, "offer_id": "d", "quantity": 1.0, "store_id": "msk"},
    {"line_no": 6, "offer_id": "e", "quantity": 1.0, "store_id": "nowhere"},
]


def test_lines_of_another_store_make_one_move_per_store_with_the_shipment() -> None:
    decision = decide_moves("shop", SHIPPED, OrderStores("msk", LINES), OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS)
    (draft,) = decision.drafts
    assert (draft.kind, draft.key, draft.source_store, draft.posted) == (
        MOVE,
        move_key("shop", "7", "Склад 3"),
        "Склад 3",
        True,
    )
    assert list(draft.lines) == [("b", 3.0), ("c", 1.0)]
    assert decision.notes == [
        "line 6: no move from warehouse `nowhere` is not mapped — add it to mappings.order_stores"
    ]
    unposted = DocumentOptions(shipment_statuses=["send-to-delivery"], moves=True, moves_posted=False)
    assert (
        not decide_moves("shop", SHIPPED, OrderStores("msk", LINES), OrderPapers("erp-7"), {}, unposted, MAPPINGS)
        .drafts[0]
        .posted
    )


def test_no_move_before_a_shipment_status_without_the_option_or_once_made() -> None:
    stores = OrderStores("msk", LINES)
    new = OrderFacts("7", "erp-7", "7A", "new", frozenset({"new"}), frozenset())
    assert decide_moves("shop", new, stores, OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS).drafts == []
    off = DocumentOptions(shipment_statuses=["send-to-delivery"])
    assert decide_moves("shop", SHIPPED, stores, OrderPapers("erp-7"), {}, off, MAPPINGS).drafts == []
    key = move_key("shop", "7", "Склад 3")
    made = {key: Made(key, "7", MOVE, "m-1", "")}
    assert decide_moves("shop", SHIPPED, stores, OrderPapers("erp-7"), made, OPTIONS, MAPPINGS).drafts == []
    listed = OrderPapers("erp-7", [ErpDocument(MOVE, "m-1", key)])  # made before a lost answer: adopted
    decision = decide_moves("shop", SHIPPED, stores, listed, {}, OPTIONS, MAPPINGS)
    assert decision.drafts == [] and [m.erp_id for m in decision.adopted] == ["m-1"]


def test_a_warehouse_resolves_as_the_shipment_store_does() -> None:
    assert erp_store("msk", MAPPINGS) == ("Основной склад", None)
    assert erp_store("spb", MAPPINGS) == ("Склад 3", None)
    assert erp_store("off", MAPPINGS)[0] is None
    fed_twice = {"stores": {"Основной склад": "msk", "Склад 2": "msk"}}
    assert "fed by" in (erp_store("msk", fed_twice)[1] or "")
