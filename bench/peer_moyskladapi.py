"""Peer: the same MoySklad extraction with the async ``moyskladapi`` client (Python >= 3.12 venv).

Run by ``bench/peers.py`` with ``bench/.venv-moyskladapi/bin/python`` (``bench/setup_moyskladapi.sh``);
no repository import. Straightforward use of the library: ``get_assortment`` (it follows
``nextHref`` itself when called with ``limit=None``), ``get_stock_current`` (the library only has
``report/stock/all/current``: no per-store report), then ``get_product``/``get_variant`` with
``expand=images`` for every item that has images (the library has no images-list call), awaited one
after another. The library paces itself to 45 requests per 3 s whatever their weight, and retries
every 429 after ``X-Lognex-Retry-TimeInterval``. It takes only a Bearer token.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

ERROR_POLICY = (
    "a failed assortment read or stock report stops the extraction; a failed per-item "
    "image call is recorded and skipped"
)


def _error(exc: BaseException) -> str:
    status = getattr(exc, "http_status", None)
    return f"{type(exc).__name__}" + (f" HTTP {status}" if status else "") + f": {str(exc)[:200]}"


async def extract(params: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    from moyskladapi import MoyskladAPI
    from moyskladapi.client.session.base import BaseSession

    out: dict[str, Any] = {
        "sdk": "moyskladapi",
        "sdk_version": version("moyskladapi"),
        "error_policy": ERROR_POLICY,
        "calls": Counter(),
        "errors": Counter(),
        "first_errors": [],
        "rows": 0,
        "stock_rows": 0,
        "image_owners": 0,
        "images": 0,
        "completed": False,
        "notes": [
            "get_assortment() with its default limit=1000 returns only 1000 rows (it "
            "follows nextHref only without a limit): called with limit=None",
            "stock: report/stock/all/current (the library has no bystore report)",
            "archived rows are not read (default filter of the API)",
            "images: get_product/get_variant(expand=images) per item",
        ],
    }

    def fail(where: str, exc: BaseException) -> None:
        out["errors"][where] += 1
        if len(out["first_errors"]) < 5:
            out["first_errors"].append(f"{where}: {_error(exc)}")

    started = time.monotonic()
    async with MoyskladAPI(token=params["token"], session=BaseSession(base=params["url"])) as api:
        try:
            out["calls"]["assortment (all pages)"] += 1
            # limit=None: with its default limit=1000 the library returns the first page only
            page = await api.get_assortment(limit=None)
            rows = list(page.rows or [])
            out["rows"] = len(rows)
            out["calls"]["stock"] += 1
            stock = await api.get_stock_current(stock_type=params.get("stock_type"), include="zeroLines")
            out["stock_rows"] = len(stock)
        except Exception as exc:
            fail("extraction", exc)
            return _finish(out, started)
        owners = []
        for row in rows:
            images = getattr(row, "images", None)
            meta = getattr(images, "meta", None)
            if meta is not None and (getattr(meta, "size", 0) or 0) > 0:
                owners.append((getattr(row.meta, "type", "product"), row.id))
        out["image_owners"] = len(owners)
        for type_, oid in owners:
            try:
                out["calls"][f"{type_} (expand=images)"] += 1
                call = api.get_variant if type_ == "variant" else api.get_product
                item = await call(oid, expand="images")
                out["images"] += len(getattr(getattr(item, "images", None), "rows", None) or [])
            except Exception as exc:
                fail("images", exc)
    out["completed"] = True
    return _finish(out, started)


def _finish(out: dict[str, Any], started: float) -> dict[str, Any]:
    out["seconds"] = round(time.monotonic() - started, 2)
    out["calls"], out["errors"] = dict(out["calls"]), dict(out["errors"])
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    started = time.monotonic()
    import moyskladapi  # noqa: F401 - paid before the timed part

    import_seconds = time.monotonic() - started
    print("ready", flush=True)
    params = json.loads(sys.stdin.readline())
    try:
        result = asyncio.run(extract(params))
    except Exception as exc:
        result = {"sdk": "moyskladapi", "completed": False, "first_errors": [f"peer: {_error(exc)}"]}
    result["import_seconds"] = round(import_seconds, 1)
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
