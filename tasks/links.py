"""Links made by hand: the "External id-objects" screen of every pair of systems.

A manager tells the hub that the channel's customer 123 is the ERP's counterparty ``8f…`` (or an
order, or an offer): the exchanges then use that link instead of searching. A link is made only
between two objects that exist (each side is asked once, by id), and never makes one id stand for
two objects: an id already linked to another is refused, naming the link in the way.

Which system is which side follows the integration's edges: customers and orders travel with the
``orders`` edge (from the channel to the ERP), offers with the ``catalog`` edge (from the ERP to
the channel).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hub.capabilities import LINK_KINDS, Lookup
from hub.config import Integration
from hub.store import Store
from hub.systems import connector
from tasks.clients import open_capability

#: the edge whose two sides a kind of link joins
EDGE_OF = {"customers": "orders", "orders": "orders", "offers": "catalog"}


class LinkRefused(ValueError):
    """A link that cannot be made or removed as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Sides:
    """The two systems a kind of link joins, by alias and system name."""

    kind: str
    source: str
    target: str
    source_system: str
    target_system: str

    @property
    def title(self) -> str:
        return f"{self.source} ({self.source_system}) ⇄ {self.target} ({self.target_system})"


def sides(name: str, integ: Integration, kind: str) -> Sides:
    """The two sides of ``kind`` links in integration ``name``.

    Raises:
        LinkRefused: an unknown kind, or the integration has no edge that carries it.
    """
    if kind not in LINK_KINDS:
        raise LinkRefused(f"unknown kind {kind!r}: one of {', '.join(LINK_KINDS)}")
    edge = integ.edge(EDGE_OF[kind])
    if edge is None:
        raise LinkRefused(f"{name} has no {EDGE_OF[kind]} edge: {kind} travel with it, so there is nothing to link")
    return Sides(kind, edge.source, edge.target, integ.systems[edge.source].system, integ.systems[edge.target].system)


def list_links(store: Store, name: str, integ: Integration, kind: str) -> tuple[Sides, list[tuple[str, str]]]:
    """Every ``kind`` object linked on both sides: ``(source id, target id)``."""
    both = sides(name, integ, kind)
    return both, store.links.pairs(name, kind, both.source_system, both.target_system)


async def _missing(integ: Integration, both: Sides, source_id: str, target_id: str) -> list[str]:
    """Which of the two ids their systems do not have (one request each)."""
    missing = []
    for alias, system, given in (
        (both.source, both.source_system, source_id),
        (both.target, both.target_system, target_id),
    ):
        if not connector(system).can(Lookup):
            raise LinkRefused(f"{alias} ({system}) cannot be asked whether {kind_one(both.kind)} {given} exists")
        async with open_capability(integ, alias, Lookup) as lookup:
            if not await lookup.exists(both.kind, given):
                missing.append(f"{alias} ({system}) has no {kind_one(both.kind)} {given!r}")
    return missing


def _one(key: str | None) -> list[str]:
    return [key] if key else []


def kind_one(kind: str) -> str:
    return kind[:-1]


def add_link(store: Store, name: str, integ: Integration, kind: str, source_id: str, target_id: str) -> str:
    """Link ``source_id`` (the source side's id) with ``target_id``; return what was done.

    Raises:
        LinkRefused: either id does not exist, or either is linked to another object already.
    """
    both = sides(name, integ, kind)
    links = store.links
    source_key = links.resolve(name, kind, both.source_system, [source_id]).get(source_id)
    target_key = links.resolve(name, kind, both.target_system, [target_id]).get(target_id)
    linked_target = links.external_ids(name, kind, both.target_system, _one(source_key)).get(source_key or "")
    linked_source = links.external_ids(name, kind, both.source_system, _one(target_key)).get(target_key or "")
    if linked_target == target_id:
        return f"{kind_one(kind)} {source_id} ⇄ {target_id} is linked already ({both.title})"
    conflicts = []
    if linked_target is not None:
        conflicts.append(f"{both.source} {source_id} is linked to {both.target} {linked_target}")
    if linked_source is not None:
        conflicts.append(f"{both.target} {target_id} is linked to {both.source} {linked_source}")
    if conflicts:
        raise LinkRefused(
            f"refused: {'; '.join(conflicts)}; one id stands for one {kind_one(kind)}: "
            f"`skladbridge links remove --integration {name} --kind {kind} …` that link first"
        )
    missing = asyncio.run(_missing(integ, both, source_id, target_id))
    if missing:
        raise LinkRefused(f"refused: {'; '.join(missing)}")
    if source_key is None and target_key is not None:
        links.attach(name, kind, target_key, both.source_system, source_id)  # the target's object gains an id
    else:
        key = source_key or links.ensure(name, kind, both.source_system, [source_id])[source_id]
        links.attach(name, kind, key, both.target_system, target_id)
    return f"linked {kind_one(kind)} {both.source} {source_id} ⇄ {both.target} {target_id}"


def remove_link(store: Store, name: str, integ: Integration, kind: str, source_id: str) -> str:
    """Unlink the source side's ``source_id`` from its target object (the exchanges search again).

    Raises:
        LinkRefused: the id is linked to nothing.
    """
    both = sides(name, integ, kind)
    key = store.links.resolve(name, kind, both.source_system, [source_id]).get(source_id)
    target = store.links.external_ids(name, kind, both.target_system, _one(key)).get(key or "")
    if key is None or target is None:
        raise LinkRefused(f"{both.source} {kind_one(kind)} {source_id} is linked to nothing in {both.target}")
    store.links.detach(name, kind, both.target_system, target)
    return f"unlinked {kind_one(kind)} {both.source} {source_id} ⇄ {both.target} {target}"
