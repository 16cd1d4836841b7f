"""The hub store: links, mappings, cursors, snapshots, staged records, exchange queue, journal,
stock notices, the hub's writes on channel orders, the console's Active switches.

Open it with :func:`open_store`; the schema is migrated to head on open. SQLite (a file) and
PostgreSQL are both supported and both tested. The store holds no credentials at all.

    store = open_store("sqlite:///var/hub.db")
    keys = store.links.ensure("shop1", "offers", "moysklad", ["a1", "a2"])
    item = store.queue.enqueue("shop1", "upload_order", "order:1001", {"order_id": "1001"})
"""

from __future__ import annotations

from .engine import Store, open_store
from .errors import StoreError
from .journal import Journal, JournalEntry
from .kv import UnknownValue
from .locks import ExchangeBusyError
from .notices import KeptNotice, Notices
from .queue import Queue
from .queue_item import QueueItem, QueueStatus
from .records import UpsertCounts
from .switches import Switch, Switches
from .writes import HubWrites

__all__ = [
    "ExchangeBusyError",
    "HubWrites",
    "Journal",
    "JournalEntry",
    "KeptNotice",
    "Notices",
    "Queue",
    "QueueItem",
    "QueueStatus",
    "Store",
    "StoreError",
    "Switch",
    "Switches",
    "UnknownValue",
    "UpsertCounts",
    "open_store",
]
