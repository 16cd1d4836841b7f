"""The ICML feed: valid, escaped, atomic, streaming, shaped like the official example, and read back
by the sandbox (fetched from the feed server, as the CRM does) into the same offers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from connectors.retailcrm.convert.catalog_feed import icml_categories, icml_offers
from connectors.retailcrm.convert.icml import IcmlCategory, IcmlOffer, parse_icml, write_icml
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.sandbox.seed import sample_categories, sample_offers
from deployments.service.feed_server import feed_app, feed_url
from hub.model import frame
from tests.shared_apis import require

from .conftest import SAMPLES

REPO = Path(__file__).resolve().parents[3]
OFFICIAL = SAMPLES / "icml-official-excerpt.xml"


def _structure(root: ET.Element) -> dict[str, object]:
    shop = root.find("shop")
    assert shop is not None
    offer = shop.find("offers/offer")
    assert offer is not None
    return {
        "root": root.tag,
        "root_attrs": set(root.attrib),
        "shop": [child.tag for child in shop],
        "category_attrs": set().union(*(c.attrib for c in shop.iter("category"))),
        "offer_attrs": set(offer.attrib),
        "offer_children": {child.tag for child in offer},
    }


def test_official_samples_parse(tmp_path: Path) -> None:
    categories, offers = parse_icml(require(OFFICIAL))
    assert [c.id for c in categories][:3] == ["2", "3", "4"] and categories[1] == IcmlCategory("3", "Shelvings", "2")
    (offer,) = list(offers)
    assert (offer.id, offer.product_id, offer.quantity, offer.xml_id) == ("115", "43", 16.0, "82")
    assert offer.price == Decimal("14000.00") and len(offer.pictures) == 3
    assert offer.params == (("Vendor code", "article", "789789"), ("Size", "size", "two-tier"))
    _, minimal = parse_icml(require(SAMPLES / "icml-minimal.xml"))
    assert [o.id for o in minimal] == ["1001-S", "1001-M"]


def test_feed_has_the_official_structure_and_escapes_text(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    nasty = IcmlOffer(
        id="a&b",
        product_id='p"1',
        name="Чай <зелёный> & \x0bко",
        product_name="Чай",
        xml_id="uuid-1",
        price=Decimal("14000"),
        purchase_price=Decimal("13200.5"),
        quantity=16,
        category_ids=("3",),
        pictures=("http://x/a.jpg?x=1&y=2",),
        params=(("Vendor code", "article", "789789"),),
        vendor="V",
        vat_rate="20",
        weight=0.25,
        dimensions="10/20/30",
        url="http://x/p",
    )
    assert (
        write_icml(
            path,
            shop_name="Shop & Co",
            company="ООО «Ромашка»",
            categories=[IcmlCategory("2", "Office"), IcmlCategory("3", "Shelvings", "2")],
            offers=[nasty],
        )
        == 1
    )
    ours, official = ET.parse(path).getroot(), ET.parse(require(OFFICIAL)).getroot()
    a, b = _structure(ours), _structure(official)
    assert a["root"] == b["root"] and a["root_attrs"] == b["root_attrs"] and a["shop"] == b["shop"]
    assert a["category_attrs"] == b["category_attrs"] and a["offer_attrs"] == b["offer_attrs"]
    assert b["offer_children"] <= a["offer_children"]  # type: ignore[operator]
    (back,) = list(parse_icml(path)[1])
    assert back.name == "Чай <зелёный> & ко" and back.id == "a&b" and back.product_id == 'p"1'
    assert back.price == Decimal("14000.00") and back.purchase_price == Decimal("13200.50")
    assert back.pictures == ("http://x/a.jpg?x=1&y=2",) and back.weight == 0.25
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_a_failed_write_leaves_the_previous_feed_in_place(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    write_icml(path, shop_name="s", company="c", categories=[], offers=sample_offers(3))
    before = path.read_bytes()

    def broken() -> object:
        yield from sample_offers(2)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        write_icml(path, shop_name="s", company="c", categories=[], offers=broken())  # type: ignore[arg-type]
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_10000_offers_feed_is_fetched_by_the_sandbox_and_read_back_identically(tmp_path: Path) -> None:
    path = tmp_path / "main.xml"
    assert (
        write_icml(path, shop_name="Shop", company="Co", categories=sample_categories(), offers=sample_offers(10_000))
        == 10_000
    )
    ET.parse(path)  # well-formed
    feeds = httpx.ASGITransport(app=feed_app({"main": path}))
    sandbox = RetailCRMSandbox(catalog_transport=feeds)
    sandbox.state.sites["main"].update({"ymlUrl": feed_url("http://feeds.test", "main"), "loadFromYml": True})
    assert asyncio.run(sandbox.refresh_catalog("main")) == 10_000
    expected = {o.id: o for o in sample_offers(10_000)}
    assert {o["externalId"] for o in sandbox.offers.values()} == set(expected)
    for offer_id, offer in sandbox.offers.items():
        source = expected[offer["externalId"]]
        assert offer["xmlId"] == source.xml_id and offer["name"] == source.name and offer["active"] == source.active
        assert sandbox.prices[offer_id]["base"] == float(source.price)  # type: ignore[arg-type]
        assert offer["icmlQuantity"] == source.quantity
    assert list(parse_icml(path)[1]) == list(expected.values())


PEAK = """
import sys, tracemalloc
from pathlib import Path
from connectors.retailcrm.sandbox.seed import sample_offers
from connectors.retailcrm.convert.icml import write_icml
n, path = int(sys.argv[1]), Path(sys.argv[2])
tracemalloc.start()
write_icml(path, shop_name="s", company="c", categories=[], offers=sample_offers(n))
print(tracemalloc.get_traced_memory()[1])
"""


def test_writer_memory_stays_flat(tmp_path: Path) -> None:
    # Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and in the suite's
    # process other tests leave threads behind (Prefect's log and event workers) that allocate meanwhile.
    def peak(n: int) -> int:
        done = subprocess.run(
            [sys.executable, "-c", PEAK, str(n), str(tmp_path / f"f{n}.xml")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return int(done.stdout.strip())

    small, large = peak(500), peak(5_000)
    assert large < small * 1.5 + 200_000, (small, large)  # holding 5 000 offers would take megabytes


def test_frames_become_feed_offers() -> None:
    products = frame(
        "products",
        [
            {
                "product_id": "p1",
                "name": "Футболка",
                "category_id": "c1",
                "vendor": "V",
                "vat_rate": 20,
                "weight": 0.3,
                "article": "ART-1",
            }
        ],
    )
    offers = frame(
        "offers",
        [
            {
                "offer_id": "o1",
                "product_id": "p1",
                "kind": "product",
                "name": "Футболка, M",
                "characteristics": "Размер=M; Цвет=синий",
                "archived": False,
            }
        ],
    )
    prices = frame("prices", [{"offer_id": "o1", "price_type_id": "retail", "amount": 99900, "currency_id": "r"}])
    stock = frame(
        "stock",
        [
            {"offer_id": "o1", "store_id": "s1", "available": 4.0, "stock_type": "stock"},
            {"offer_id": "o1", "store_id": "s2", "available": -1.0, "stock_type": "stock"},
        ],
    )
    images = frame("images", [{"owner_id": "p1", "position": 1, "url": "http://img/1.jpg"}])
    (offer,) = icml_offers(offers, products=products, prices=prices, price_type_id="retail", stock=stock, images=images)
    assert offer == IcmlOffer(
        id="o1",
        product_id="p1",
        name="Футболка, M",
        product_name="Футболка",
        xml_id="o1",
        price=Decimal("999.00"),
        quantity=4.0,
        category_ids=("c1",),
        pictures=("http://img/1.jpg",),
        params=(("Артикул", "article", "ART-1"), ("Размер", "razmer", "M"), ("Цвет", "cvet", "синий")),
        vendor="V",
        vat_rate="20",
        weight=0.3,
    )
    categories = frame(
        "categories",
        [{"category_id": "c1", "name": "Одежда"}, {"category_id": "c2", "parent_id": "c1", "name": "Футболки"}],
    )
    assert list(icml_categories(categories))[1] == IcmlCategory("c2", "Футболки", "c1")


def test_feed_server(tmp_path: Path) -> None:
    path = tmp_path / "main.xml"
    write_icml(path, shop_name="s", company="c", categories=[], offers=sample_offers(2))
    app = feed_app({"main": path, "later": tmp_path / "missing.xml"})

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f") as http:
            ok = await http.get("/feeds/main.xml")
            again = await http.get("/feeds/main.xml", headers={"If-None-Match": ok.headers["etag"]})
            return [ok, again, await http.get("/feeds/nope.xml"), await http.get("/feeds/later.xml")]

    ok, again, unknown, later = asyncio.run(go())
    assert ok.status_code == 200 and ok.content == path.read_bytes() and "xml" in ok.headers["content-type"]
    assert again.status_code == 304 and "last-modified" in ok.headers
    assert unknown.status_code == 404 and unknown.text == "not found\n"  # names no integration
    assert later.status_code == 503


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_100000_offers_are_written_in_constant_memory_and_parse_back(tmp_path: Path) -> None:
    """RSS sampled every 10 000 offers while writing and while parsing must not grow with the count."""
    path = tmp_path / "big.xml"
    samples: list[int] = []

    def offers() -> Iterator[IcmlOffer]:
        for i, offer in enumerate(sample_offers(100_000)):
            if i % 10_000 == 9_999:
                samples.append(_rss_bytes())
            yield offer

    assert write_icml(path, shop_name="s", company="c", categories=sample_categories(), offers=offers()) == 100_000
    assert path.stat().st_size > 50_000_000
    assert max(samples) - min(samples) < 20_000_000, samples
    samples.clear()
    for i, _offer in enumerate(parse_icml(path)[1], start=1):
        if i % 10_000 == 0:
            samples.append(_rss_bytes())
    assert len(samples) == 10
    assert max(samples) - min(samples) < 20_000_000, samples


def test_timer_reload_skips_an_unchanged_feed_by_etag(tmp_path: Path) -> None:
    """Like the CRM's loader: an unchanged feed (same ETag, 304) is not parsed again."""
    path = tmp_path / "main.xml"
    write_icml(path, shop_name="Shop", company="Co", categories=sample_categories(), offers=sample_offers(5))
    sandbox = RetailCRMSandbox(catalog_transport=httpx.ASGITransport(app=feed_app({"main": path})))
    sandbox.state.sites["main"].update({"ymlUrl": feed_url("http://feeds.test", "main"), "loadFromYml": True})
    assert asyncio.run(sandbox.refresh_catalog("main")) == 5
    stamp = sandbox.state.sites["main"]["catalogUpdatedAt"]
    assert asyncio.run(sandbox.refresh_catalog("main")) == 0
    assert sandbox.state.sites["main"]["catalogUpdatedAt"] == stamp
    write_icml(path, shop_name="Shop", company="Co", categories=sample_categories(), offers=sample_offers(7))
    assert asyncio.run(sandbox.refresh_catalog("main")) == 7
    assert asyncio.run(sandbox.refresh_catalog("main", force=True)) == 7


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from connectors.retailcrm.sandbox.seed import sample_offers
from connectors.retailcrm.convert.icml import write_icml

def offers():
    yield from sample_offers(2)
    print("writing", flush=True)
    time.sleep(600)  # killed here, its file still in the buffer: 0 bytes on disk

write_icml(Path(sys.argv[1]), shop_name="s", company="c", categories=[], offers=offers())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no kill -9; the writers' locks are flock")
def test_a_write_killed_on_its_way_leaves_a_temporary_file_the_next_write_removes(tmp_path: Path) -> None:
    path = tmp_path / "feeds" / "demo.xml"
    path.parent.mkdir()
    write_icml(path, shop_name="s", company="c", categories=[], offers=sample_offers(3))
    before = path.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    finally:
        writer.kill()
        writer.wait()
    left = [p for p in path.parent.iterdir() if p != path]
    assert len(left) == 1 and left[0].name.endswith(".tmp") and left[0].stat().st_size == 0, left
    assert path.read_bytes() == before  # the feed itself untouched

    # a write in progress elsewhere (its writer alive, its file locked) is left alone
    live = path.parent / f".{path.name}.live.tmp"
    with live.open("wb") as held:
        import fcntl

        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        write_icml(path, shop_name="s", company="c", categories=[], offers=sample_offers(4))
        assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, live.name])
    assert len(list(parse_icml(path)[1])) == 4  # the new feed is in place
