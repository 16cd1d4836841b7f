"""The hub's writes on a channel's orders, recorded around the request that makes them.

A channel's history shows them under the hub's credential; the order reader skips only those it
finds here (:mod:`hub.store.writes`), so changes made by a shop's module that shares the
credential are read like anyone's. The rows are written before the request — a history read racing
it still knows the change is ours — and closed after it, the values the channel refused dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from hub.store import Store


async def recorded(
    store: Store,
    integration: str,
    system: str,
    field: str,
    values: Mapping[str, str],
    write: Callable[[], Awaitable[dict[str, str]]],
) -> dict[str, str]:
    """Run ``write`` (it writes ``values``, order id -> value, into ``field`` of the channel ``system``,
    the config's alias, and returns the refused orders with why) with the writes recorded around it."""
    ids = store.writes.begin(integration, system, field, dict(values))
    refused: dict[str, str] = {}
    try:
        refused = await write()
        return refused
    finally:
        # a request that failed may still have written: its rows are kept (closed), not dropped
        store.writes.end(ids, refused=refused)
