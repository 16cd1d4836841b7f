"""Forgetting what the source no longer has: items deleted there, or products that gained variants.

Only after a complete pass over the assortment (see :attr:`PageCounts.complete`): an offset pass
over a catalog edited during the run may miss a row, and a missed row must not be taken for a
deleted one. What is forgotten leaves the hub's staged catalog, so the next feed no longer lists it
and the channel deactivates the offer on its next load. Links are kept: they are history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NONE

from tasks.catalog.extract import PageCounts
from tasks.catalog.run import CatalogRun

#: kinds staged from assortment rows, and the kinds hanging off them (by key or by parent key)
_OWNED = {
    "offers": (("prices", "parents"), ("purchase_prices", "keys"), ("images", "parents"), ("image_sync", "keys")),
    "products": (("images", "parents"), ("image_sync", "keys")),
}


@dataclass
class Pruned:
    """What was forgotten per kind, or why nothing was."""

    removed: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None


@task(name="forget-removed-items", cache_policy=NONE)
def forget_removed(run: CatalogRun, pages: PageCounts) -> Pruned:
    """Delete staged offers and products this complete pass did not see, with their prices and images."""
    if not pages.complete:
        return Pruned(skipped="the catalog changed while it was read: removed items are forgotten by the next run")
    if not pages.row_ids and run.store.records.count(run.name, "offers"):
        # an account that suddenly lists nothing has more likely lost rights than its whole catalog
        return Pruned(
            skipped=f"{run.source_title} listed no items at all: nothing was forgotten (check the account's rights)"
        )
    result = Pruned()
    for kind, owned in _OWNED.items():
        gone = run.store.records.delete_missing(run.name, kind, pages.seen.get(kind, set()))
        result.removed[kind] = len(gone)
        for child, by in owned:
            if gone:
                removed = run.store.records.delete(run.name, child, **{by: gone})
                result.removed[child] = result.removed.get(child, 0) + removed
    if any(result.removed.values()):
        run.store.journal.write(
            run.name,
            "info",
            "full-import.forgotten",
            f"forgot items {run.source_title} no longer has: {result.removed}",
            dict(result.removed),
        )
    return result
