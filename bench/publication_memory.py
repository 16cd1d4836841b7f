"""Memory of the catalog publication pass as the catalog grows: slices against one whole read.

    python bench/publication_memory.py [--sizes 10000,50000,100000] [--quick] [--out bench/results]

For each size, a synthetic staged catalog (products, every fifth with two variants, two price
types, purchase prices, two images per tenth product, a stock report over 10 stores) is staged
in a SQLite hub, and ``publish-catalog`` is run twice on fresh copies of it: as the full import
runs it (slices of ``SLICE_ROWS`` offers) and as a peer that reads the whole catalog in one
slice, which is what the flow did before slicing. The pass sends no request (it writes the feed
and queues upload batches), so the measure is memory: the peak of Python allocations during the
pass (``tracemalloc``, numpy and pandas buffers included). The stock report, one response for the
whole catalog, is built before the pass and counted apart. Both runs must produce the same feed
bytes and the same queued batches, or the benchmark fails. Writes
``<out>/publication_memory-<UTC>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from connectors.moysklad.convert.catalog import stock_levels_to_frame  # noqa: E402
from connectors.moysklad.wire.stock_levels import parse_levels  # noqa: E402
from hub import model  # noqa: E402
from hub.config import parse_config  # noqa: E402
from hub.store import open_store  # noqa: E402
from tasks.catalog.entries import SLICE_ROWS  # noqa: E402
from tasks.catalog.feed import content_digest  # noqa: E402
from tasks.catalog.publication import publish_catalog  # noqa: E402
from tasks.catalog.run import plan_catalog_run  # noqa: E402
from tasks.mapping_check import CatalogMappings  # noqa: E402

STORES = [f"s{n}" for n in range(10)]
MAPPINGS = CatalogMappings(
    store_map={s: ("msk" if n < 5 else "spb") for n, s in enumerate(STORES)},
    price_type_map={"pt1": "base", "pt2": "wholesale"},
    feed_price_type_id="pt1",
)
QUICK_SIZES = (2000, 8000)


def stage_catalog(db_url: str, products: int) -> int:
    """Stage a synthetic catalog of ``products`` products; returns the number of offers."""
    store = open_store(db_url)
    try:
        rows, offers = [], []
        for i in range(products):
            pid = f"p{i:07d}"
            rows.append(
                {
                    "product_id": pid,
                    "kind": "product",
                    "name": f"Товар {i}",
                    "article": f"A{i}",
                    "category_id": f"f{i % 50}",
                    "vat_rate": 20,
                    "weight": 0.5,
                    "archived": False,
                }
            )
            if i % 5 == 0:
                offers += [
                    {
                        "offer_id": f"{pid}-v{n}",
                        "product_id": pid,
                        "kind": "variant",
                        "name": f"Товар {i} ({n})",
                        "characteristics": f"Размер={40 + n}",
                        "archived": False,
                    }
                    for n in (1, 2)
                ]
            else:
                offers.append(
                    {
                        "offer_id": pid,
                        "product_id": pid,
                        "kind": "product",
                        "name": f"Товар {i}",
                        "article": f"A{i}",
                        "archived": False,
                    }
                )
        records = store.records
        records.upsert_frame(
            "bench",
            "categories",
            "moysklad",
            model.frame("categories", [{"category_id": f"f{n}", "name": f"Раздел {n}"} for n in range(50)]),
            "category_id",
        )
        records.upsert_frame("bench", "products", "moysklad", model.frame("products", rows), "product_id")
        records.upsert_frame("bench", "offers", "moysklad", model.frame("offers", offers), "offer_id")
        records.upsert_frame(
            "bench",
            "prices",
            "moysklad",
            model.frame(
                "prices",
                [
                    {"offer_id": o["offer_id"], "price_type_id": pt, "amount": 10_000 + k + n, "currency_id": "rub"}
                    for k, o in enumerate(offers)
                    for n, pt in enumerate(("pt1", "pt2"))
                ],
            ),
            ["offer_id", "price_type_id"],
        )
        records.upsert_frame(
            "bench",
            "purchase_prices",
            "moysklad",
            model.frame(
                "purchase_prices", [{"offer_id": o["offer_id"], "amount": 5000, "currency_id": "rub"} for o in offers]
            ),
            "offer_id",
        )
        records.upsert_frame(
            "bench",
            "images",
            "moysklad",
            model.frame(
                "images",
                [
                    {
                        "owner_id": r["product_id"],
                        "position": pos,
                        "url": f"https://img.example/{r['product_id']}/{pos}.jpg",
                    }
                    for r in rows[::10]
                    for pos in range(2)
                ],
            ),
            ["owner_id", "position"],
        )
        return len(offers)
    finally:
        store.close()


def stock_report_body(products: int) -> bytes:
    """A non-zero current-stock report as MoySklad sends it (one JSON array, unpaged): three of the
    ten stores for three offers in four."""
    return json.dumps(
        [
            {
                "assortmentId": f"p{i:07d}" if i % 5 else f"p{i:07d}-v1",
                "storeId": f"s{(i + n) % 10}",
                "stock": (i * 7 + n) % 13,
            }
            for i in range(products)
            if i % 4
            for n in range(3)
        ],
        separators=(",", ":"),
    ).encode()


def stock_report(products: int) -> pd.DataFrame:
    """:func:`stock_report_body` read as the stock task reads the real one (the client's compact
    decoding, :mod:`connectors.moysklad.wire.stock_levels`, then the source's conversion)."""
    return stock_levels_to_frame(parse_levels(stock_report_body(products), "stock"), "stock")


def measure(work: Path, stock: pd.DataFrame, slice_rows: int) -> dict[str, Any]:
    """Run the pass once on the staged hub in ``work``; peak Python allocation during the pass."""
    config = parse_config(
        {
            "integrations": {
                "bench": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${BENCH_MS_TOKEN}"},
                        "crm": {
                            "system": "retailcrm",
                            "base_url": "https://bench.retailcrm.ru",
                            "api_key": "${BENCH_CRM_KEY}",
                        },
                    },
                    "flows": {s: {"from": "ms", "to": "crm"} for s in ("catalog", "stock", "prices")},
                    "options": {"feed": {"dir": str(work / "feeds")}},
                }
            }
        },
        source=work / "skladbridge.yaml",
        require_secrets=False,
    )
    store = open_store(f"sqlite:///{work / 'hub.db'}")
    try:
        run = plan_catalog_run(config, "bench", store)
        tracemalloc.start()
        tracemalloc.reset_peak()
        started = time.perf_counter()
        publication = publish_catalog.fn(run, stock, MAPPINGS, slice_rows=slice_rows)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # per stream: the two streams' batches interleave in the queue differently with slicing
        batches = {
            stream: [
                b.payload for b in store.queue.claim(integration="bench", kind=stream, limit=10**6, worker="bench")
            ]
            for stream in publication.planned
        }
        queued = hashlib.sha1(json.dumps(batches, sort_keys=True).encode()).hexdigest()
        return {
            "slice_rows": slice_rows,
            "seconds": round(seconds, 2),
            "peak_mb": round(peak / 2**20, 1),
            "feed_offers": publication.feed.offers,
            "feed_digest": content_digest(publication.feed.path),
            "batches": {s: p.batches for s, p in publication.planned.items()},
            "queued_digest": queued,
        }
    finally:
        store.close()


def run_size(products: int, scratch: Path) -> dict[str, Any]:
    staged = scratch / f"staged-{products}"
    staged.mkdir()
    started = time.perf_counter()
    offers = stage_catalog(f"sqlite:///{staged / 'hub.db'}", products)
    stage_seconds = time.perf_counter() - started
    tracemalloc.start()
    stock = stock_report(products)
    report_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    runs = {}
    for name, rows in (("ours (slices)", SLICE_ROWS), ("peer (one whole read)", max(offers, 1))):
        work = scratch / f"{products}-{rows}"
        shutil.copytree(staged, work)
        runs[name] = measure(work, stock, rows)
    ours, peer = runs.values()
    same = all(ours[k] == peer[k] for k in ("feed_offers", "feed_digest", "batches", "queued_digest"))
    if not same:
        raise SystemExit(f"{products}: sliced and whole passes differ: {ours} vs {peer}")
    return {
        "products": products,
        "offers": offers,
        "stock_rows": len(stock),
        "stock_report_mb": round(report_mb, 1),
        "stage_seconds": round(stage_seconds, 1),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sizes", default="10000,50000,100000", help="product counts, comma-separated")
    p.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} (CI smoke)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = p.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else tuple(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="skladbridge-pubmem-") as scratch:
        results = [run_size(n, Path(scratch)) for n in sizes]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"publication_memory-{stamp}.json"
    path.write_text(json.dumps({"slice_rows": SLICE_ROWS, "sizes": results}, indent=2, ensure_ascii=False))
    print(f"{'products':>9} {'offers':>8} {'run':<22} {'peak MB':>8} {'s':>7}")
    for result in results:
        for name, run in result["runs"].items():
            print(f"{result['products']:>9} {result['offers']:>8} {name:<22} {run['peak_mb']:>8} {run['seconds']:>7}")
    print(
        "stock report (held whole, outside the pass): "
        + ", ".join(f"{r['products']}: {r['stock_report_mb']} MB" for r in results)
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
