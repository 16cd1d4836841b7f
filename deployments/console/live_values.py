"""The values each system of an integration actually has, read live for the *Mappings* screen.

Which side of which mapping a value is on follows the config's edges, whatever the systems:

* the ERP of ``orders`` (:class:`OrderSink`): its order states (what ``statuses`` map to), its stores
  (what ``order_stores`` map to, and what ``stores`` map from) and its services (``delivery_types``);
* the channel of ``statuses`` (:class:`StatusSink`): its order statuses (what ``statuses`` map from);
* the channel of ``stock`` (:class:`StockSink`), or else of ``catalog`` (:class:`CatalogFeedSink`): its
  warehouses (what ``stores`` map to, and ``order_stores`` from) and its price types (``price_types``).

A system that cannot be read is a line of ``problems``; the others are still shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.capabilities import CatalogFeedSink, OrderSink, StatusSink, StockSink
from hub.config import Integration

#: seconds a read of one system may take
READ_SECONDS = 20.0


@dataclass
class LiveValues:
    """``kind -> values`` on each side of the mappings, as the systems answered at ``at``."""

    sources: dict[str, list[str]] = field(default_factory=dict)
    targets: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def read_live(integ: Integration) -> LiveValues:
    from connectors.http import first_line
    from tasks.clients import open_capability

    live = LiveValues()

    async def read(alias: str, capability: type, use: Callable[[Any], Awaitable[None]]) -> None:
        try:
            async with asyncio.timeout(READ_SECONDS):
                async with open_capability(integ, alias, capability) as system:  # type: ignore[var-annotated]
                    await use(system)
        except TimeoutError:
            live.problems.append(f"{alias}: no answer in {READ_SECONDS:g} s")
        except Exception as exc:  # each system's failure is a line on the screen
            live.problems.append(f"{alias}: {first_line(exc)}")

    async def erp(system: Any) -> None:
        books = await system.order_reference()
        live.targets["statuses"] = sorted(books.states)
        live.targets["order_stores"] = sorted(books.stores)
        live.sources["stores"] = sorted(books.stores)
        live.targets["delivery_types"] = sorted(books.services)

    async def statuses(system: Any) -> None:
        live.sources["statuses"] = sorted(str(s) for s in await system.statuses())

    async def channel(system: Any) -> None:
        reference = await system.channel_reference()
        live.targets["stores"] = sorted(reference.warehouses)
        live.sources["order_stores"] = sorted(reference.warehouses)
        live.targets["price_types"] = sorted(reference.price_types)

    reads = []
    if (edge := integ.edge("orders")) is not None:
        reads.append(read(edge.target, OrderSink, erp))
    if (edge := integ.edge("statuses")) is not None:
        reads.append(read(edge.target, StatusSink, statuses))
    if (edge := integ.edge("stock")) is not None:
        reads.append(read(edge.target, StockSink, channel))
    elif (edge := integ.edge("catalog")) is not None:
        reads.append(read(edge.target, CatalogFeedSink, channel))
    await asyncio.gather(*reads)
    return live
