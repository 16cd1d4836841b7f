"""The hub's writes on channel orders: recorded before the request, closed after it, refused ones dropped,
and told from a later change of the same value by time."""

from __future__ import annotations

from datetime import timedelta

from hub.capabilities import WRITE_CLOCK_SKEW, WRITE_ERP_ID, WRITE_STATUS, HubWriteLog
from hub.store import Store
from tests.hub.conftest import FakeClock


def test_writes_are_kept_per_integration_and_system_with_their_time_bracket(store: Store, clock: FakeClock) -> None:
    started = clock()
    ids = store.writes.begin("shop", "crm", WRITE_STATUS, {"5": "assembling", "6": "complete", "7": "nope"})
    store.writes.begin("other", "crm", WRITE_STATUS, {"5": "cancel-other"})
    assert store.writes.of_orders("shop", "crm", ["5"])[0].ended is None  # open while the request runs
    clock.advance(3)
    store.writes.end(ids, refused={"7"})  # the channel refused 7: nothing was written there
    log = store.writes.log("shop", "crm")
    assert isinstance(log, HubWriteLog)
    found = {(w.order_id, w.field, w.value): w for w in log.hub_writes(["5", "6", "7", "8"])}
    assert set(found) == {("5", WRITE_STATUS, "assembling"), ("6", WRITE_STATUS, "complete")}
    five = found[("5", WRITE_STATUS, "assembling")]
    assert (five.started, five.ended) == (started, started + timedelta(seconds=3))
    assert store.writes.of_orders("shop", "crm2", ["5"]) == []  # another account of the same system


def test_a_write_matches_its_own_change_only(store: Store, clock: FakeClock) -> None:
    store.writes.end(store.writes.begin("shop", "crm", WRITE_ERP_ID, {"9": "ms-9"}))
    [write] = store.writes.of_orders("shop", "crm", ["9"])
    at = write.started + timedelta(seconds=1)
    assert write.made("9", WRITE_ERP_ID, "ms-9", at)
    assert write.made("9", WRITE_ERP_ID, "ms-9", write.started - WRITE_CLOCK_SKEW)  # the channel's clock runs behind
    assert not write.made("9", WRITE_ERP_ID, "ms-10", at)  # another value
    assert not write.made("10", WRITE_ERP_ID, "ms-9", at)  # another order
    assert not write.made("9", WRITE_STATUS, "ms-9", at)  # another field
    assert not write.made("9", WRITE_ERP_ID, "ms-9", write.started + timedelta(hours=1))  # a later change


def test_old_writes_are_pruned(store: Store, clock: FakeClock) -> None:
    store.writes.end(store.writes.begin("shop", "crm", WRITE_STATUS, {"1": "new"}))
    clock.advance(31 * 86400)
    store.writes.end(store.writes.begin("shop", "crm", WRITE_STATUS, {"2": "new"}))
    assert [w.order_id for w in store.writes.of_orders("shop", "crm", ["1", "2"])] == ["2"]
