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

import uuid

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from hub.exchanges import FULL_IMPORT, RunResult
from tasks.catalog.bundles import pull_bundle_components
from tasks.catalog.extract import catalog_mappings, import_assortment, pull_reference, pull_stock
from tasks.catalog.prune import forget_removed
from tasks.catalog.publication import channel_loaded, publish_catalog
from tasks.catalog.report import catalog_outcome
from tasks.catalog.run import CatalogRun, plan_catalog_run
from tasks.exchange import Exchange, Outcome, run_exchange
from tasks.publish import drain


def import_catalog(
    ex: Exchange[CatalogRun], pages_per_task: int, batches_per_task: int, catalog_wait: float
) -> Outcome:
    """Reference books, mappings checked, assortment and stock read, the removed forgotten; the feed
    written and what changed queued; the channel given time to load a changed feed; the queue sent."""
    run = ex.run
    reference = pull_reference(run, with_catalog_stamp=catalog_wait > 0)
    mappings = catalog_mappings(run, reference)
    stock_future = pull_stock.submit(run)
    pages = import_assortment(run, pages_per_task)
    pruned = forget_removed(run, pages)
    bundles_known = not run.wants_stock or pull_bundle_components(run, pages.bundles) is not None
    publication = publish_catalog(run, stock_future.result(), mappings)
    loaded = channel_loaded(run, publication, reference.channel.catalog_stamp, catalog_wait)
    uploaded = {stream: drain(run, stream, batches_per_task) for stream in publication.planned}
    return catalog_outcome(
        run,
        pages,
        pruned,
        publication,
        uploaded,
        list(mappings.warnings),
        bundles_known=bundles_known,
        catalog_loaded=loaded,
    )


@flow(
    name="full-import",
    flow_run_name="full-import/{integration}",
    task_runner=ThreadPoolTaskRunner(max_workers=3),  # type: ignore[arg-type]
    log_prints=False,
)
def full_import(
    integration: str,
    config_path: str | None = None,
    pages_per_task: int = 10,
    batches_per_task: int = 40,
    catalog_wait_seconds: float = 0.0,
    resend_all: bool = False,
) -> RunResult:
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
    token = uuid.uuid4().hex if resend_all else None
    return run_exchange(
        FULL_IMPORT,
        integration,
        config_path,
        lambda config, name, store: plan_catalog_run(config, name, store, resend_token=token),
        lambda ex: import_catalog(ex, pages_per_task, batches_per_task, catalog_wait_seconds),
    )
