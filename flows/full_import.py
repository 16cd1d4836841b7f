"""Full primary import: everything the stock system knows about the catalog, into the hub and out
to the channel.

Reads: reference books (currencies, price types, stores, organizations, categories,
characteristics), the assortment by pages (products, services, bundles, variants, prices), images
only of items changed since their last fetch, and one current-stock report. Forgets what the source
no longer has (after a complete pass). Checks the mappings and the channel's settings before it
writes anything. Publishes the catalog feed, then stock and prices that differ from what was last
sent, in batches through the exchange queue; a run whose batches were not accepted fails. One run
per integration at a time (run locks in the hub store). Which systems these are is the config's
business (``catalog: {from: erp, to: shop}``): the flow speaks only capabilities.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, tags
from prefect.task_runners import ThreadPoolTaskRunner

from connectors.http import request_stats
from tasks.bundles import pull_bundle_components
from tasks.catalog_extract import (
    PageCounts,
    import_first_page,
    import_page_range,
    page_ranges,
    pull_reference,
    pull_stock,
)
from tasks.catalog_feed import await_catalog_load, pictures_hint
from tasks.catalog_pass import publish_catalog
from tasks.catalog_prune import Pruned, forget_removed
from tasks.catalog_run import CatalogRun, plan_catalog_run
from tasks.hub_tasks import load_config_task, open_hub_store
from tasks.mapping_check import MappingError, resolve_catalog_mappings
from tasks.publish import INVENTORIES, PRICES, Planned, Uploaded, UploadsFailed, drain
from tasks.reporting import Progress, publish_summary, requests_rows
from tasks.run_crashes import sweep_abandoned_runs

#: the queue streams a full import owns while it runs
STREAMS = (INVENTORIES, PRICES)


@flow(name="full-import", flow_run_name="full-import/{integration}",
      task_runner=ThreadPoolTaskRunner(max_workers=3), log_prints=False)  # type: ignore[arg-type]
def full_import(
    integration: str,
    config_path: str | None = None,
    pages_per_task: int = 10,
    batches_per_task: int = 40,
    catalog_wait_seconds: float = 0.0,
    resend_all: bool = False,
) -> dict[str, Any]:
    """Import the catalog of ``integration`` from its source and publish it to its channel.

    Args:
        integration: the integration's name in the config.
        config_path: the config file (default: ``$SKLADBRIDGE_CONFIG`` or ``./skladbridge.yaml``).
        pages_per_task: assortment pages (1000 rows each) per task run.
        batches_per_task: upload batches (as many entries each as the channel takes) per task run.
        catalog_wait_seconds: how long to wait for the channel to load a changed feed before
            uploading stock and prices (offers it does not know yet are sent again by the next run).
        resend_all: send every offer's stock and prices, whatever was sent before (after the channel
            lost data or was edited by hand).
    """
    logger = get_run_logger()
    started, before = time.monotonic(), request_stats().by_endpoint()
    config = load_config_task(config_path)
    store = open_hub_store(config)
    try:
        try:
            run = plan_catalog_run(config, integration, store,
                                   resend_token=uuid.uuid4().hex if resend_all else None)
            # one run per integration publishes its stock and prices: another would take over this
            # one's queue claims as abandoned and send the same batches again
            with tags(f"integration:{integration}", "full-import"), store.locks.hold(integration, *STREAMS):
                sweep_abandoned_runs(integration)  # the lock is ours: a run still shown Running is dead
                summary = _import(run, pages_per_task, batches_per_task, catalog_wait_seconds)
        except Exception as exc:
            store.journal.write(integration, "error", "full-import.failed", f"full import failed: {exc}")
            raise
        summary["seconds"] = round(time.monotonic() - started, 2)
        spent = request_stats().since(before)
        summary["requests"] = {system: asdict(spent.total(system)) for system in spent.systems()}
        summary["rows"] += [*requests_rows(spent), {"what": "duration, s", "count": round(summary["seconds"], 1)}]
        warnings, failures = summary["warnings"], summary["failures"]
        publish_summary(
            f"full-import-{integration}",
            [*summary["rows"], *({"what": "failed", "count": f} for f in failures),
             *({"what": "warning", "count": w} for w in warnings)],
            f"Full import of {integration}: {run.source} -> hub -> {run.target}",
        )
        level = "error" if failures else "warning" if warnings else "info"
        store.journal.write(integration, level, "full-import.done", _one_line(summary),
                            {"warnings": warnings, "failures": failures})
        for line in warnings:
            logger.warning(line)
        if failures:
            # what was accepted stays accepted; the rest waits in the queue, and the run says so
            raise UploadsFailed(f"full import of {integration}: " + "; ".join(failures))
        return summary
    finally:
        store.close()


def _import(run: CatalogRun, pages_per_task: int, batches_per_task: int, catalog_wait: float) -> dict[str, Any]:
    """The exchange itself, top to bottom; returns the summary without timing and requests."""
    # items a killed run left claimed would otherwise wait for their lease to expire; the run lock
    # says no live run holds them
    released = sum(run.store.queue.release(integration=run.name, kind=stream) for stream in STREAMS)
    run.store.journal.write(run.name, "info", "full-import.start", "full import started",
                            {"released_claims": released})
    reference = pull_reference(run, with_catalog_stamp=catalog_wait > 0)
    try:
        mappings = resolve_catalog_mappings(
            run.name, run.integ.mappings,
            stores=reference.frames["stores"], price_types=reference.frames["price_types"],
            folders=reference.frames["categories"],
            channel=reference.channel.with_problems_of(run.target),
            need_stock=run.wants_stock, need_prices=run.wants_prices,
            source_title=run.source_title, channel_title=run.target_title,
        )
    except MappingError as exc:
        run.store.journal.write(run.name, "error", "full-import.mappings", str(exc))
        raise
    warnings = list(mappings.warnings)

    stock_future = pull_stock.submit(run)
    pages = _import_assortment(run, pages_per_task)
    pruned = forget_removed(run, pages)
    if pruned.skipped:
        warnings.append(pruned.skipped)
    if run.wants_stock and pull_bundle_components(run, pages.bundles) is None:
        warnings.append(f"{pages.bundles} bundles: {run.source_title} cannot list their components, so their stock "
                        "is left untouched in the channel")
    stock = stock_future.result()

    publication = publish_catalog(run, stock, mappings)
    planned, feed = publication.planned, publication.feed
    if publication.feed_stats.pictures_without_link:
        warnings.append(f"{publication.feed_stats.pictures_without_link} pictures have no public link and are left "
                        f"out of the feed: {pictures_hint(run)}")
    # a feed this run did not change may still be unloaded (a re-run after a crash): offers the
    # channel never accepted say so
    if catalog_wait > 0 and planned and (feed.changed or publication.new_offers):
        if not await_catalog_load(run, reference.channel.catalog_stamp, catalog_wait, publication.new_offers,
                                  feed_changed=feed.changed):
            warnings.append("the channel did not load the new feed in time: unknown offers are sent by the next run")
    uploaded = {stream: drain(run, stream, batches_per_task) for stream in planned}

    failures: list[str] = []
    for stream, result in uploaded.items():
        if result.not_found:
            warnings.append(f"{stream}: {len(result.not_found)} offers unknown to the channel (sent again next run)")
        if result.unfinished:
            batches = "batch" if result.unfinished == 1 else "batches"
            failures.append(f"{stream}: {result.unfinished} {batches} not accepted ({result.dead} refused for good, "
                            f"the rest retried later from the queue): {result.errors[:3]}")
    summary = _summary(run, pages, pruned, planned, uploaded, feed.offers, feed.changed)
    summary.update(warnings=warnings, failures=failures, feed_path=str(feed.path))
    return summary


def _import_assortment(run: CatalogRun, pages_per_task: int) -> PageCounts:
    """The first page tells the catalog size; the rest are fetched in page-range tasks."""
    progress = Progress(f"{run.name}: assortment pages")
    total = import_first_page(run)
    ranges = page_ranges(total.total_size, total.page_size, pages_per_task)
    expected = 1 + sum(len(r) for r in ranges)
    progress.update(total.pages, expected)
    futures = [import_page_range.submit(run, offsets) for offsets in ranges]
    for future in futures:
        total.add(future.result())
        progress.update(total.pages, expected)
    return total


def _summary(run: CatalogRun, pages: PageCounts, pruned: Pruned, planned: dict[str, Planned],
             uploaded: dict[str, Uploaded], feed_offers: int, feed_changed: bool) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {"what": "assortment rows read", "count": pages.rows},
        {"what": "assortment pages read", "count": pages.pages},
        *({"what": f"{kind} changed in hub", "count": n} for kind, n in sorted(pages.changed.items())),
        *({"what": f"{kind} removed (gone in the source)", "count": n}
          for kind, n in sorted(pruned.removed.items()) if kind in ("offers", "products")),
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
    return {
        "integration": run.name, "rows": rows,
        "pages": {"pages": pages.pages, "rows": pages.rows, "changed": pages.changed,
                  "images_fetched_for": pages.images_fetched_for, "total_size": pages.total_size},
        "removed": dict(pruned.removed),
        "planned": {k: asdict(v) for k, v in planned.items()},
        "uploaded": {k: {**asdict(v), "not_found": len(v.not_found), "failed_items": sorted(v.failed_items)}
                     for k, v in uploaded.items()},
    }


def _one_line(summary: dict[str, Any]) -> str:
    parts = [f"{r['what']}: {r['count']}" for r in summary["rows"] if not str(r["what"]).startswith("requests")]
    return "full import done; " + "; ".join(parts[:8])
