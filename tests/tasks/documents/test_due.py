"""When each document is due, by the seed's rules (pure decisions: no hub, no HTTP)."""

from __future__ import annotations

from typing import Any

from hub.capabilities import BANK_PAYMENT, CASH_PAYMENT, RETURN, SHIPMENT, ErpDocument, OrderPapers
from hub.options import DocumentOptions
from tasks.documents.due import Made, OrderFacts, decide, payment_key, return_key, returns, shipment_key

OPTIONS = DocumentOptions(shipment_statuses=["send-to-delivery"], shipment_cancel_statuses=["cancel-other"])
MAPPINGS: dict[str, dict[str, str | None]] = {
    "payment_documents": {"bank-card": "bank", "cash": "cash", "credit": None},
    "payment_accounts": {"bank-card": "40702810500000000002"},
}


def facts(status: str, seen: set[str], before: set[str] = frozenset(), payments: Any = ()) -> OrderFacts:  # type: ignore[assignment]
    return OrderFacts("7", "erp-7", "7A", status, frozenset(seen), frozenset(before), list(payments))


def test_a_shipment_is_due_once_the_order_passed_a_shipment_status_even_if_it_moved_on() -> None:
    passed = facts("delivering", {"new", "send-to-delivery", "delivering"})
    decision = decide("shop", passed, OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS)
    (draft,) = decision.drafts
    assert (draft.kind, draft.key, draft.number, draft.posted) == (SHIPMENT, shipment_key("shop", "7"), "7A", True)
    assert decide("shop", facts("new", {"new"}), OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS).drafts == []
    made = {draft.key: Made(draft.key, "7", SHIPMENT, "d-1", "")}
    assert decide("shop", passed, OrderPapers("erp-7"), made, OPTIONS, MAPPINGS).drafts == []  # once
    unnumbered = DocumentOptions(shipment_statuses=["send-to-delivery"], shipment_number=False)
    assert decide("shop", passed, OrderPapers("erp-7"), {}, unnumbered, MAPPINGS).drafts[0].number is None


def test_a_shipment_the_erp_lists_under_our_key_is_adopted_not_made_again() -> None:
    papers = OrderPapers("erp-7", [ErpDocument(SHIPMENT, "d-1", shipment_key("shop", "7"))])
    decision = decide("shop", facts("send-to-delivery", {"send-to-delivery"}), papers, {}, OPTIONS, MAPPINGS)
    assert decision.drafts == [] and [m.erp_id for m in decision.adopted] == ["d-1"]


def test_returns_are_due_when_a_cancel_status_is_newly_seen_one_per_shipment_without_one() -> None:
    cancelled = facts("cancel-other", {"send-to-delivery", "cancel-other"}, before={"send-to-delivery"})
    assert decide("shop", cancelled, OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS).returns_due
    old_news = facts("cancel-other", {"send-to-delivery", "cancel-other"}, before={"send-to-delivery", "cancel-other"})
    assert not decide("shop", old_news, OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS).returns_due
    by_hand, ours, returned = (
        ErpDocument(SHIPMENT, "d-hand"),
        ErpDocument(SHIPMENT, "d-ours", shipment_key("shop", "7")),
        ErpDocument(SHIPMENT, "d-back", returned=True),
    )
    papers = OrderPapers("erp-7", [by_hand, ours, returned])
    drafts, adopted = returns("shop", cancelled, [by_hand, ours, returned], papers, {})
    assert [(d.kind, d.shipment_id, d.key) for d in drafts] == [
        (RETURN, "d-hand", return_key("shop", "7", "d-hand")),
        (RETURN, "d-ours", return_key("shop", "7", "d-ours")),
    ] and adopted == []


def test_payments_by_type_posted_by_status_and_an_edit_updates_the_same_document() -> None:
    card = {"payment_id": "p1", "type": "bank-card", "status": "not-paid", "amount": 11000, "paid_at": None}
    cash = {"payment_id": "p2", "type": "cash", "status": "paid", "amount": 500, "paid_at": None}
    credit = {"payment_id": "p3", "type": "credit", "status": "paid", "amount": 900, "paid_at": None}
    first = decide(
        "shop", facts("new", {"new"}, payments=[card, cash, credit]), OrderPapers("erp-7"), {}, OPTIONS, MAPPINGS
    )
    bank, till = first.drafts
    assert (bank.kind, bank.posted, bank.amount, bank.account, bank.number) == (
        BANK_PAYMENT,
        False,
        11000,
        "40702810500000000002",
        "p1",
    )
    assert (till.kind, till.posted, till.key) == (CASH_PAYMENT, True, payment_key("shop", "7", "p2"))
    made = {d.key: Made(d.key, "7", d.kind, f"doc-{d.key[-2:]}", first.contents[d.key]) for d in first.drafts}
    same = decide("shop", facts("new", {"new"}, payments=[card, cash]), OrderPapers("erp-7"), made, OPTIONS, MAPPINGS)
    assert same.drafts == []
    paid = {**card, "status": "paid"}
    again = decide("shop", facts("new", {"new"}, payments=[paid, cash]), OrderPapers("erp-7"), made, OPTIONS, MAPPINGS)
    (update,) = again.drafts
    assert (update.erp_id, update.posted, update.number) == ("doc-p1", True, None)
