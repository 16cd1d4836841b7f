"""What a catalog run (full import, catalog feed) tells: its summary rows, warnings and failures."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tasks.catalog.extract import PageCounts
from tasks.catalog.feed import pictures_hint
from tasks.catalog.prune import Pruned
from tasks.catalog.publication import Publication
from tasks.catalog.run import CatalogRun
from tasks.exchange import Outcome
from tasks.publish import Planned, Uploaded


def catalog_outcome(
    run: CatalogRun,
    pages: PageCounts,
    pruned: Pruned,
    publication: Publication,
    uploaded: dict[str, Uploaded],
    warnings: list[str],
    *,
    bundles_known: bool,
    catalog_loaded: bool,
) -> Outcome:
    """The run's summary; batches the channel did not accept fail it (what was accepted stays accepted)."""
    warnings = list(warnings)
    if pruned.skipped:
        warnings.append(pruned.skipped)
    if not bundles_known:
        warnings.append(
            f"{pages.bundles} bundles: {run.source_title} cannot list their components, so their stock "
            "is left untouched in the channel"
        )
    if publication.feed_stats.pictures_without_link:
        warnings.append(
            f"{publication.feed_stats.pictures_without_link} pictures have no public link and are left "
            f"out of the feed: {pictures_hint(run)}"
        )
    if not catalog_loaded:
        warnings.append("the channel did not load the new feed in time: unknown offers are sent by the next run")
    failures: list[str] = []
    for stream, result in uploaded.items():
        if result.not_found:
            warnings.append(f"{stream}: {len(result.not_found)} offers unknown to the channel (sent again next run)")
        if result.unfinished:
            batches = "batch" if result.unfinished == 1 else "batches"
            failures.append(
                f"{stream}: {result.unfinished} {batches} not accepted ({result.dead} refused for good, "
                f"the rest retried later from the queue): {result.errors[:3]}"
            )
    feed = publication.feed
    summary = _summary(pages, pruned, publication.planned, uploaded)
    rows = _rows(pages, pruned, publication.planned, uploaded, feed.offers, feed.changed)
    parts = [f"{r['what']}: {r['count']}" for r in rows]
    return Outcome(
        rows=rows,
        summary={**summary, "warnings": warnings, "failures": failures, "feed_path": str(feed.path)},
        line="full import done; " + "; ".join(parts[:8]),
        level="error" if failures else "warning" if warnings else "info",
        data={"warnings": warnings, "failures": failures},
        notes=[
            *({"what": "failed", "count": f} for f in failures),
            *({"what": "warning", "count": w} for w in warnings),
        ],
        warnings=warnings,
        failure=f"full import of {run.name}: " + "; ".join(failures) if failures else None,
    )


def _rows(
    pages: PageCounts,
    pruned: Pruned,
    planned: dict[str, Planned],
    uploaded: dict[str, Uploaded],
    feed_offers: int,
    feed_changed: bool,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"what": "assortment rows read", "count": pages.rows},
        {"what": "assortment pages read", "count": pages.pages},
        *({"what": f"{kind} changed in hub", "count": n} for kind, n in sorted(pages.changed.items())),
        *(
            {"what": f"{kind} removed (gone in the source)", "count": n}
            for kind, n in sorted(pruned.removed.items())
            if kind in ("offers", "products")
        ),
        {"what": "items whose images were fetched", "count": pages.images_fetched_for},
        {"what": "feed offers" + (" (feed updated)" if feed_changed else " (feed unchanged)"), "count": feed_offers},
    ]
    for stream, plan in planned.items():
        sent = uploaded.get(stream, Uploaded())
        rows.append({"what": f"{stream}: offers compared", "count": plan.entries})
        rows.append({"what": f"{stream}: offers changed", "count": plan.changed})
        rows.append({"what": f"{stream}: batches sent", "count": sent.batches})
        rows.append({"what": f"{stream}: offers sent", "count": sent.entries})
        if sent.unfinished:
            rows.append({"what": f"{stream}: batches not accepted", "count": sent.unfinished})
    return rows


def _summary(
    pages: PageCounts, pruned: Pruned, planned: dict[str, Planned], uploaded: dict[str, Uploaded]
) -> dict[str, Any]:
    return {
        "pages": {
            "pages": pages.pages,
            "rows": pages.rows,
            "changed": pages.changed,
            "images_fetched_for": pages.images_fetched_for,
            "total_size": pages.total_size,
        },
        "removed": dict(pruned.removed),
        "planned": {k: asdict(v) for k, v in planned.items()},
        "uploaded": {
            k: {**asdict(v), "not_found": len(v.not_found), "failed_items": sorted(v.failed_items)}
            for k, v in uploaded.items()
        },
    }
