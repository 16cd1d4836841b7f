"""The two-way sync's rules as data: the four retail options, and what counts as a customer's change."""

from __future__ import annotations

import pytest

from hub.capabilities.two_way import Line
from tasks.two_way.customers import moved, norm
from tasks.two_way.retail import lines_after_sale

ORDERED = [Line("a", 2, 100), Line("b", 3, 200), Line("c", 1, 300)]
#: the sale: a as ordered, fewer of b, none of c, two of d (not ordered)
SOLD = [Line("a", 2, 90), Line("b", 1, 190), Line("d", 2, 400)]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ORDERED),  # every option off: the order stays as it was
        ({"decrease": True}, [Line("a", 2, 100), Line("b", 1, 200), Line("c", 1, 300)]),
        ({"add": True}, [*ORDERED, Line("d", 2, 400)]),
        ({"remove": True}, [Line("a", 2, 100), Line("b", 3, 200)]),
        (
            {"increase": True, "decrease": True, "add": True, "remove": True},
            [Line("a", 2, 100), Line("b", 1, 200), Line("d", 2, 400)],
        ),
    ],
)
def test_a_sale_with_fewer_and_extra_items_by_the_four_options(options: dict[str, bool], expected: list[Line]) -> None:
    flags = {"increase": False, "decrease": False, "add": False, "remove": False, **options}
    assert lines_after_sale(ORDERED, SOLD, **flags) == sorted(expected, key=lambda line: line.offer_id)


def test_increase_only_raises() -> None:
    more = [Line("a", 5, 100), Line("b", 1, 200)]
    got = lines_after_sale(ORDERED, more, increase=True, decrease=False, add=False, remove=False)
    assert got == [Line("a", 5, 100), Line("b", 3, 200), Line("c", 1, 300)]


def test_a_change_is_what_a_merchant_would_call_one() -> None:
    assert norm("phone", "8 (999) 111-22-33") == norm("phone", "+7 999 111 22 33")
    assert norm("email", " Ada@Example.com ") == "ada@example.com"
    seen = {"name": "Лавлейс Ада", "phone": "+79991112233", "email": "ada@example.com"}
    now = {**seen, "phone": "8 999 111 22 33", "email": "ADA@example.com", "address": "Лондон"}
    assert moved(now, seen, {}) == {"address"}
    # first sight (nothing recorded): only non-empty values the other side lacks
    assert moved({"name": "A", "email": None}, None, {"name": "A", "email": "x@y"}) == set()
    assert moved({"name": "B"}, None, {"name": "A"}) == {"name"}
