"""What MoySklad no longer has leaves the hub, but only after a pass that provably read everything."""

from __future__ import annotations

from collections.abc import Callable

from tasks.catalog.extract import PageCounts
from tasks.catalog.prune import forget_removed
from tasks.catalog.run import CatalogRun


def _pages(run: CatalogRun, drop: set[str], sizes: set[int] | None = None) -> PageCounts:
    """A pass that read every staged item but ``drop`` (``sizes``: what the pages reported)."""
    offers = set(run.store.records.hashes(run.name, "offers")) - drop
    products = set(run.store.records.hashes(run.name, "products")) - drop
    rows = offers | products
    return PageCounts(
        pages=1, rows=len(rows), sizes=sizes or {len(rows)}, row_ids=rows, seen={"offers": offers, "products": products}
    )


def test_a_complete_pass_forgets_gone_items_with_their_prices_and_images(make_run: Callable[[str], CatalogRun]) -> None:
    run = make_run("prune")
    records = run.store.records
    before = {kind: records.count("shop", kind) for kind in ("offers", "prices", "images", "purchase_prices")}

    pruned = forget_removed.fn(run, _pages(run, drop={"p00", "p07-v1"}))

    assert pruned.skipped is None
    assert pruned.removed["offers"] == 2 and pruned.removed["products"] == 1  # p00; p07 still has p07-v2
    assert records.frame("shop", "offers", keys=["p00", "p07-v1"]).empty
    assert records.count("shop", "prices") == before["prices"] - 4
    assert records.frame("shop", "images", parents=["p00"]).empty
    assert records.count("shop", "images") == before["images"] - 2
    assert records.count("shop", "purchase_prices") == before["purchase_prices"] - 1  # only p00 had one
    assert any(e.event == "full-import.forgotten" for e in run.store.journal.list(integration="shop"))
    assert forget_removed.fn(run, _pages(run, drop=set())).removed == {"offers": 0, "products": 0}


def test_a_pass_over_a_changing_catalog_forgets_nothing(make_run: Callable[[str], CatalogRun]) -> None:
    run = make_run("moving")
    pages = _pages(run, drop={"p00"})
    moved = PageCounts(
        rows=pages.rows, sizes={len(pages.row_ids), len(pages.row_ids) + 1}, row_ids=pages.row_ids, seen=pages.seen
    )  # a product was added mid-run
    assert forget_removed.fn(run, moved).skipped
    short = _pages(run, drop={"p00"}, sizes={len(pages.row_ids) + 1})  # a row was skipped by a shift
    assert forget_removed.fn(run, short).skipped
    assert not run.store.records.frame("shop", "offers", keys=["p00"]).empty


def test_an_account_that_suddenly_lists_nothing_forgets_nothing(make_run: Callable[[str], CatalogRun]) -> None:
    run = make_run("empty")
    pruned = forget_removed.fn(run, PageCounts(pages=1, sizes={0}))
    assert pruned.skipped and "rights" in pruned.skipped
    assert run.store.records.count("shop", "offers") > 0
