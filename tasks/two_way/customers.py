"""Customers both ways: a linked customer's card changed on one side is set on the other (docs/two_way.md).

Only customers the hub linked (the order upload found or created their counterparty) are kept in
step: a counterparty made in the ERP by its users has no channel customer and is not pushed. A cycle
takes the channel customers its history says changed (own writes skipped) and the counterparties the
ERP's webhooks named, reads both cards of each pair, and compares each side with the card it had
when last seen (:data:`~tasks.two_way.run.CARDS`): what moved on one side and differs on the other is
written there. The cards are then recorded as they now are, so the other side's echo of the hub's
own write (the ERP's webhook, the channel's history) finds nothing moved: nothing bounces. A field
changed on both sides at once keeps the channel's value (the channel is where customers are kept).

Values are compared as a merchant reads them: phones by their digits (``8 999…`` is ``+7 999…``),
e-mails without case, text without surrounding blanks. A pair seen for the first time has no
recorded cards: both sides are compared with the customer as the order upload staged it from the
channel (what the counterparty was found or made by), and failing that, a side's non-empty value that
differs from the other side's counts as its change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from hub.capabilities.two_way import CARD_FIELDS, Card, CustomerCards, CustomerChanges
from tasks.orders.stage import plain_rows
from tasks.two_way.run import CARDS, CUSTOMERS_CURSOR, TwoWayRun

#: link kind of customers (the order upload's)
CUSTOMERS = "customers"
#: channel history pages read in one cycle at most (the next cycle goes on from the cursor)
MAX_PAGES = 20


@dataclass
class CustomersResult:
    """What one cycle did with customers."""

    channel_changed: int = 0  # channel customers the history named
    erp_changed: int = 0  # counterparties the webhooks named
    not_linked: int = 0  # of them, not from the channel (the ERP's own): left alone
    to_erp: int = 0  # counterparties changed
    to_channel: int = 0  # channel customers changed
    refused: dict[str, str] = field(default_factory=dict)  # "<side>:<id>" -> why


def norm(key: str, value: str | None) -> str:
    """A card value as compared: phones by digits (a leading 8 is +7), e-mails lower-case, text stripped."""
    text = (value or "").strip()
    if key == "phone":
        digits = re.sub(r"\D", "", text)
        return "7" + digits[1:] if len(digits) == 11 and digits[0] == "8" else digits
    return text.lower() if key == "email" else text


def moved(now: Card, seen: Card | None, other: Card) -> set[str]:
    """The fields of a side's card that moved since it was seen (first sight: its non-empty values the
    other side lacks)."""
    if seen is not None:
        return {k for k in CARD_FIELDS if norm(k, now.get(k)) != norm(k, seen.get(k))}
    return {k for k in CARD_FIELDS if norm(k, now.get(k)) and norm(k, now.get(k)) != norm(k, other.get(k))}


def _pairs(run: TwoWayRun, channel_ids: Sequence[str], erp_ids: Sequence[str]) -> tuple[dict[str, str], int]:
    """Channel customer id -> ERP counterparty id of the linked ones among these; how many were not linked."""
    links = run.store.links
    keys = links.resolve(run.name, CUSTOMERS, run.source_system, channel_ids)
    erp = links.external_ids(run.name, CUSTOMERS, run.target_system, list(keys.values()))
    pairs = {cid: erp[key] for cid, key in keys.items() if key in erp}
    back_keys = links.resolve(run.name, CUSTOMERS, run.target_system, erp_ids)
    channel = links.external_ids(run.name, CUSTOMERS, run.source_system, list(back_keys.values()))
    for eid, key in back_keys.items():
        if key in channel:
            pairs.setdefault(channel[key], eid)
    unlinked = len(set(channel_ids) - set(keys)) + len(set(erp_ids) - set(back_keys))
    return pairs, unlinked


def _seen(run: TwoWayRun, keys: Sequence[str]) -> dict[str, dict[str, str | None]]:
    rows = plain_rows(run.store.records.frame(run.name, CARDS, keys=list(keys)))
    return {str(r["key"]): json.loads(str(r["card"])) for r in rows}


def _record(run: TwoWayRun, cards: Mapping[str, Card]) -> None:
    if cards:
        frame = pd.DataFrame(
            {
                "key": list(cards),
                "card": [json.dumps(dict(c), sort_keys=True, ensure_ascii=False) for c in cards.values()],
            }
        )
        run.store.records.upsert_frame(run.name, CARDS, run.source_system, frame, "key")


async def _channel_changes(run: TwoWayRun, changes: CustomerChanges) -> tuple[list[str], str | None]:
    """Channel customers changed since the cursor, and the cursor after them."""
    cursor = run.store.cursors.get(run.name, CUSTOMERS_CURSOR)
    ids: list[str] = []
    for _ in range(MAX_PAGES):
        batch = await changes.changed_customers(cursor)
        ids += [i for i in batch.ids if i not in ids]
        cursor = batch.cursor
        if not batch.more:
            break
    return ids, cursor


async def customers_both_ways(
    run: TwoWayRun,
    channel: CustomerCards,
    changes: CustomerChanges,
    erp: CustomerCards,
    erp_ids: Sequence[str],
) -> CustomersResult:
    """One cycle of customers both ways (``erp_ids``: the counterparties the webhooks named)."""
    options = run.integ.options.two_way
    result = CustomersResult()
    channel_ids, cursor = await _channel_changes(run, changes) if options.customers_to_erp else ([], None)
    erp_ids = list(dict.fromkeys(erp_ids)) if options.customers_from_erp else []
    result.channel_changed, result.erp_changed = len(channel_ids), len(erp_ids)
    pairs, result.not_linked = _pairs(run, channel_ids, erp_ids)
    if pairs:
        await _sync_pairs(run, channel, erp, pairs, (set(channel_ids), set(erp_ids)), result)
    if cursor is not None:
        run.store.cursors.set(run.name, CUSTOMERS_CURSOR, cursor)
    for where, why in result.refused.items():
        run.store.journal.write(
            run.name, "warning", "two-way.customer-refused", f"customer {where} not changed: {why}", {"customer": where}
        )
    return result


async def _sync_pairs(
    run: TwoWayRun,
    channel: CustomerCards,
    erp: CustomerCards,
    pairs: Mapping[str, str],
    named: tuple[set[str], set[str]],
    result: CustomersResult,
) -> None:
    """Compare and write the pairs; only a side that said it changed (``named``: the channel customers,
    the counterparties) is read for changes, so a counterparty the upload found (not made) with another
    spelling of the name is not written over the channel's when the channel's customer changes."""
    options = run.integ.options.two_way
    ch_cards = await channel.customer_cards(list(pairs))
    erp_cards = await erp.customer_cards(list(pairs.values()))
    seen = _seen(run, [f"channel|{c}" for c in pairs] + [f"erp|{e}" for e in pairs.values()])
    staged = {
        str(r["customer_id"]): {k: None if r.get(k) is None else str(r[k]) for k in CARD_FIELDS}
        for r in plain_rows(run.store.records.frame(run.name, CUSTOMERS, keys=list(pairs)))
    }
    to_erp: dict[str, dict[str, str | None]] = {}
    to_channel: dict[str, dict[str, str | None]] = {}
    after: dict[str, dict[str, str | None]] = {}
    for cid, eid in pairs.items():
        ch, er = ch_cards.get(cid), erp_cards.get(eid)
        if ch is None or er is None:
            continue  # gone on one side: nothing to keep in step
        first = staged.get(cid)  # first sight: as the upload staged it
        ch_seen, er_seen = seen.get(f"channel|{cid}", first), seen.get(f"erp|{eid}", first)
        ch_moved = moved(ch, ch_seen, er) if options.customers_to_erp and cid in named[0] else set()
        er_moved = moved(er, er_seen, ch) - ch_moved if options.customers_from_erp and eid in named[1] else set()
        up = {k: ch.get(k) for k in sorted(ch_moved) if norm(k, ch.get(k)) != norm(k, er.get(k))}
        # the ERP's address goes to the channel's address notes: the card's address (its text) stays
        down = {k: er.get(k) for k in sorted(er_moved) if k == "address" or norm(k, er.get(k)) != norm(k, ch.get(k))}
        if up:
            to_erp[eid] = up
        if down:
            to_channel[cid] = down
        # a side not read for changes keeps its recorded card (plus what was written): a change it made
        # that its notice has not announced yet is still a change when the notice comes
        er_base = er if eid in named[1] else (er_seen or er)
        ch_base = ch if cid in named[0] else (ch_seen or ch)
        after[f"erp|{eid}"] = {**er_base, **up}
        after[f"channel|{cid}"] = {**ch_base, **{k: v for k, v in down.items() if k != "address"}}
    refused_erp = await erp.update_customer_cards(to_erp) if to_erp else {}
    refused_channel = await channel.update_customer_cards(to_channel) if to_channel else {}
    result.to_erp = len(to_erp) - len(refused_erp)
    result.to_channel = len(to_channel) - len(refused_channel)
    result.refused.update({f"erp:{k}": v for k, v in refused_erp.items()})
    result.refused.update({f"channel:{k}": v for k, v in refused_channel.items()})
    # a refused write is not recorded as made: that side keeps its old card (journaled; the change is
    # tried again when the customer changes again)
    stale = {f"erp|{k}" for k in refused_erp} | {f"channel|{k}" for k in refused_channel}
    _record(run, {k: v for k, v in after.items() if k not in stale})
