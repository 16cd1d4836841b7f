"""The YML feed: memory of writing 100 000 offers, and how soon a stock change reaches the served feed.

    python bench/yml_feed.py memory [--products 100000] [--out bench/results]
    python bench/yml_feed.py latency [--changes 20] [--products 60] [--out bench/results]

``memory``: a synthetic staged catalog (``bench/publication_memory.py``'s: every fifth product with
two variants, two price types, images, a non-zero stock report over ten stores) in a SQLite hub; the
catalog pass (``publish-catalog``) writes the YML feed of a ``yml`` channel with two outlets, in a
fresh process; the peak RSS (``VmHWM``, reset once the report's bytes are in the process) is the
whole process's from reading the stock report to the end of the pass: the imports, the report's
bytes (one unpaged response for the whole catalog), their decoding by the client
(:mod:`connectors.moysklad.wire.stock_levels`, a row at a time into three columns) and the source's
conversion into the frame the pass holds, then the pass. The feed is then read back by the strict
portal check and must hold every offer.

At 100 000 products (120 000 offers, 225 000 stock rows, a 12 MB report body), in
``bench/results/yml_feed-memory-20261208T015454Z.json``: 156.8 MB before the report is read (the
imports ~142 MB: prefect, pandas, numpy, sqlalchemy, httpx; the report's bytes), peak 192.7 MB
through the decoding and the pass (a slice of 2 500 offers in flight, and freed memory the allocator
keeps). Decoded the usual way, a dict per row, the report alone took the process past 200 MB
before the pass began. The run before these changes (``yml_feed-memory-20261207T221908Z.json``,
report generated as rows, its decoding not measured): 233.8 MB before the pass, 257.8 MB peak.

It also writes as many offers with the YML writer alone in a fresh process that imports nothing
else (``writer_alone``): what streaming costs, apart from the hub's imports and the stock report.

``latency``: the MoySklad sandbox on loopback, the real flows and store, the feed server; after a
full import, each change is a stock document in MoySklad followed by one stock-sync cycle, started
at once as the webhook receiver starts one; the latency is from the document to the moment a
portal's conditional GET of the served feed shows the new quantity. The scheduled path adds the
wait for the next cycle (``periods.stock_sync``). Writes ``<out>/yml_feed-<what>-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _config(work: Path) -> Any:
    from hub.config import parse_config

    return parse_config(
        {
            "integrations": {
                "bench": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${BENCH_MS_TOKEN}"},
                        "shop": {"system": "yml", "base_url": "https://shop.example.com", "outlets": ["1", "2"]},
                    },
                    "flows": {s: {"from": "ms", "to": "shop"} for s in ("catalog", "stock", "prices")},
                    "options": {"feed": {"dir": str(work / "feeds")}},
                }
            }
        },
        source=work / "skladbridge.yaml",
        require_secrets=False,
    )


def _status_mb(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status`` (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def memory_pass(work: Path) -> dict[str, Any]:
    """The catalog pass alone (run in a fresh process): its time and the process's peak RSS."""
    from bench.publication_memory import STORES, stock_report_body
    from connectors.moysklad.convert.catalog import stock_levels_to_frame
    from connectors.moysklad.wire.stock_levels import parse_levels
    from hub.store import open_store
    from tasks.catalog.publication import publish_catalog
    from tasks.catalog.run import plan_catalog_run
    from tasks.mapping_check import CatalogMappings

    products = int((work / "products").read_text())
    body = stock_report_body(products)  # the report's bytes as they arrive (the response's content)
    gc.collect()
    mappings = CatalogMappings(
        store_map={s: ("1" if n < 5 else "2") for n, s in enumerate(STORES)},
        price_type_map={"pt1": "price", "pt2": "oldprice"},
        feed_price_type_id="pt1",
    )
    # the peak from the stock report's bytes on: reading them (the client's decoding and the
    # source's conversion, as the stock task does), then the pass. The imports and the synthetic
    # body (built from a list of dicts, which peaks far above what it keeps) are in the process
    # before it; Linux resets the high-water mark on request (proc(5): clear_refs, "5")
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    stock = stock_levels_to_frame(parse_levels(body, "stock"), "stock")
    del body
    store = open_store(f"sqlite:///{work / 'hub.db'}")
    try:
        run = plan_catalog_run(_config(work), "bench", store)
        started = time.perf_counter()
        publication = publish_catalog.fn(run, stock, mappings)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {
        "seconds": round(seconds, 1),
        "rss_before_pass_mb": round(before, 1),
        "peak_rss_mb": round(_status_mb("VmHWM"), 1),
        "stock_rows": len(stock),
        "feed_offers": publication.feed.offers,
        "feed_path": str(publication.feed.path),
    }


def writer_pass(work: Path, offers: int) -> dict[str, Any]:
    """The YML writer alone (run in a fresh process that imports nothing else): ``offers`` offers
    from a generator, each with pictures, params and two outlets."""
    from decimal import Decimal

    from connectors.yml.convert.yml import YmlCategory, YmlOffer, YmlShop, write_yml

    def generated() -> Any:
        for i in range(offers):
            yield YmlOffer(
                id=f"5c6b1f9e-0000-5000-8000-{i:012d}", name=f"Товар {i} (размер {40 + i % 8})", available=i % 9 > 0,
                price=Decimal(1000 + i % 997), old_price=Decimal(1500), currency="RUB", category_id=str(1 + i % 50),
                group_id=str(1 + i // 2), pictures=(f"https://hub.example.com/images/shop/{i}/1",),
                vendor="Бренд", vendor_code=f"A{i}", count=i % 9, outlets=(("1", i % 5), ("2", i % 4)),
                params=(("Размер", "", str(40 + i % 8)), ("Вес", "кг", "0.5")),
            )  # fmt: skip

    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    shop = YmlShop("Shop", "Company", "https://shop.example.com", "RUB")
    written = write_yml(
        work / "writer.xml", shop=shop, categories=[YmlCategory(str(n), f"Раздел {n}") for n in range(1, 51)],
        offers=generated(),
    )  # fmt: skip
    return {
        "offers": written,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(_status_mb("VmHWM"), 1),
        "feed_mb": round((work / "writer.xml").stat().st_size / 2**20, 1),
    }


def memory(products: int) -> dict[str, Any]:
    from bench.publication_memory import stage_catalog
    from connectors.yml.sandbox.portal import check_yml

    with tempfile.TemporaryDirectory(prefix="skladbridge-yml-") as scratch:
        work = Path(scratch)
        started = time.perf_counter()
        offers = stage_catalog(f"sqlite:///{work / 'hub.db'}", products)
        staged = time.perf_counter() - started
        (work / "products").write_text(str(products))
        child = subprocess.run(
            [sys.executable, __file__, "_pass", str(work)], capture_output=True, text=True, check=True, cwd=REPO
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        alone = subprocess.run(
            [sys.executable, __file__, "_writer", str(work), "--products", str(offers)],
            capture_output=True, text=True, check=True, cwd=REPO,
        )  # fmt: skip
        result["writer_alone"] = json.loads(alone.stdout.strip().splitlines()[-1])
        feed = Path(result.pop("feed_path"))
        size_mb = feed.stat().st_size / 2**20
        checked = check_yml(feed)  # the whole feed passes the strict portal check
    if len(checked.offers) != offers or result["feed_offers"] != offers:
        raise SystemExit(f"the feed holds {len(checked.offers)} offers, the catalog {offers}")
    return {
        "products": products,
        "offers": offers,
        "stage_seconds": round(staged, 1),
        "feed_mb": round(size_mb, 1),
        **result,
    }


def latency(changes: int, products: int) -> dict[str, Any]:
    import os

    os.environ.setdefault("PREFECT_HOME", str(REPO / ".cache" / "bench-prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from connectors.moysklad.sandbox import MoySkladSandbox
    from connectors.moysklad.sandbox.generator import seed_catalog
    from connectors.sandboxing import LoopbackServer
    from connectors.yml.sandbox.portal import YmlPortal
    from deployments.service.feed_server import FeedServer, feed_app, feed_url
    from flows.full_import import full_import
    from flows.stock_sync import stock_sync
    from hub.store import open_store
    from tests.e2e.test_stock_sync import change_stock
    from tests.e2e.test_yml_feed import CONFIG

    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    os.environ["YML_TEST_MS_PASSWORD"] = password
    moysklad = MoySkladSandbox(token=None, login="admin@yml", password=password, token_kind="user")
    seed_catalog(moysklad, products, variants_ratio=0.3, stores=4, price_types=2, seed=11)
    secret = secrets.token_urlsafe(18)
    seconds: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="skladbridge-yml-lat-") as scratch,
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        work = Path(scratch)
        feed_path = work / "feeds" / "agora.xml"
        with LoopbackServer(moysklad.app) as ms, FeedServer(feed_app({"agora": feed_path}, {"agora": secret})) as feeds:
            config = work / "skladbridge.yaml"
            config.write_text(CONFIG.format(db=work / "skladbridge.db", ms_url=f"{ms.url}/api/remap/1.2"), "utf-8")
            full_import("agora", config_path=str(config))
            stock_sync("agora", config_path=str(config))  # the first cycle reads all stock
            portal = YmlPortal(feed_url(feeds.url, "agora", secret))
            portal.load()
            store = open_store(f"sqlite:///{work / 'skladbridge.db'}")
            plain = [p for p, x in moysklad.store.of_type("product").items() if not x.get("variantsCount")]
            keys = store.links.resolve("agora", "offers", "moysklad", plain)
            store.close()
            offered = portal.load().offers
            plain = [p for p in plain if keys.get(p) in offered]  # archived ones are not in the feed
            for n in range(changes):
                offer = plain[n % len(plain)]
                before = portal.load().offers[keys[offer]].outlets.get("2", 0)
                started = time.perf_counter()
                change_stock(moysklad, offer, "Склад 3", +1)
                stock_sync("agora", config_path=str(config), trigger="webhook")
                while portal.load().offers[keys[offer]].outlets.get("2", 0) != before + 1:
                    if time.perf_counter() - started > 60:
                        raise SystemExit(f"change {n} did not reach the feed in 60 s")
                    time.sleep(0.05)
                seconds.append(time.perf_counter() - started)
    ordered = sorted(seconds)
    return {
        "products": products,
        "changes": changes,
        "p50_s": round(statistics.median(ordered), 2),
        "p95_s": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 2),
        "max_s": round(ordered[-1], 2),
        "portal_loads": {"200": portal.loads.count(200), "304": portal.loads.count(304)},
        "all_s": [round(s, 2) for s in seconds],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("what", choices=["memory", "latency", "_pass", "_writer"])
    p.add_argument("work", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--products", type=int, default=None)
    p.add_argument("--changes", type=int, default=20)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = p.parse_args(argv)
    if args.what == "_writer":
        print(json.dumps(writer_pass(Path(args.work), args.products)))
        return 0
    if args.what == "_pass":
        print(json.dumps(memory_pass(Path(args.work))))
        return 0
    if args.what == "memory":
        result = memory(args.products or 100_000)
    else:
        result = latency(args.changes, args.products or 60)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"yml_feed-{args.what}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "all_s"}, ensure_ascii=False))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
