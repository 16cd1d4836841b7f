"""Done-when: a 20 000-item catalog with stock, pulled over a real loopback socket, with zero 429s
and exactly the requests the paging needs."""

from __future__ import annotations

import math

from connectors.http import request_stats
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert import catalog as convert
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer
from tests.connectors.moysklad.conftest import DAY, run

ITEMS = 20_000


def test_pull_20000_items_with_stock_in_the_minimum_requests() -> None:
    sandbox = MoySkladSandbox(token="pull-token", token_kind="app", today=DAY)
    seed_catalog(sandbox, ITEMS, variants_ratio=0.0, images_ratio=0.0, seed=1)
    assert len(sandbox.store.assortment()) == ITEMS

    async def pull(url: str) -> tuple[int, int, int]:
        offers = pages = 0
        async with MoySkladClient(url, token="pull-token", token_kind="app", today=DAY) as ms:
            async for page in ms.iter_assortment():
                pages += 1
                offers += len(convert.assortment_to_frames(page)["offers"])
            stock = convert.stock_to_frame(await ms.stock_current("bystore"), "stock")
        return offers, pages, len(stock)

    with LoopbackServer(sandbox.app) as server:
        offers, pages, stock_rows = run(pull(server.url + API_PREFIX))

    assert offers == ITEMS
    assert pages == math.ceil(ITEMS / 1000)
    assert stock_rows > ITEMS  # three stores, zero lines included
    assert len(sandbox.log) == math.ceil(ITEMS / 1000) + 1
    assert sandbox.log.count(status=429) == 0 and not sandbox.banned
    assert request_stats().total("moysklad").requests == len(sandbox.log)
