"""The peer: the same MoySklad extraction written the straightforward way with the official SDK.

``moysklad-remap-12-sdk`` (MoySklad's generated, synchronous client): page through
``entity/assortment`` (limit 1000), one ``report/stock/bystore/current``, then the images of every
item that has any, one per-item call each. Sequential, no pacing beyond what the SDK does (none),
no retry of a 429 (the SDK's urllib3 retries only connection errors: MoySklad's 429 carries
``X-Lognex-Retry-After``, not ``Retry-After``). Error policy of such a script: a failed page or
report stops the extraction; a failed per-item image call is recorded and the loop goes on (the
usual ``try/except`` around a loop).

Runs in its own process (``python -m bench.peer_sdk``) so its memory is its own and the ~40 s SDK
import is paid before the timed part: it prints ``ready`` once imported, reads one JSON line of
parameters on stdin, and prints one JSON line of results.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from typing import Any

SDK_NAME = "moysklad-remap-12-sdk"
ERROR_POLICY = (
    "a failed assortment page or stock report stops the extraction; a failed per-item "
    "image call is recorded and skipped"
)


def _import_sdk() -> tuple[Any, float]:
    started = time.monotonic()
    import moysklad_remap_12_sdk as sdk

    return sdk, time.monotonic() - started


def _error(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    text = f"{type(exc).__name__}" + (f" HTTP {status}" if status is not None else "")
    return f"{text}: {str(exc).splitlines()[0][:200]}" if str(exc) else text


def extract(sdk: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The straightforward extraction; returns what it read and every error it met."""
    from importlib.metadata import version

    from moysklad_remap_12_sdk.api.assortment_api import AssortmentApi
    from moysklad_remap_12_sdk.api.products_api import ProductsApi
    from moysklad_remap_12_sdk.api.reports_stock_current_api import ReportsStockCurrentApi

    cfg = sdk.Configuration(host=params["url"])
    if params.get("token"):
        cfg.access_token, auth = params["token"], ["bearerAuth"]
    else:
        cfg.username, cfg.password, auth = params["login"], params["password"], ["basicAuth"]
    client = sdk.ApiClient(cfg)
    # the API answers 415 without it; the SDK sends no Accept-Encoding by default
    client.set_default_header("Accept-Encoding", "gzip")
    assortment, products = AssortmentApi(client), ProductsApi(client)
    out: dict[str, Any] = {
        "sdk": SDK_NAME,
        "sdk_version": version(SDK_NAME),
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
            "the SDK has no variant images method: variants use its generic "
            "ApiClient.call_api on /entity/variant/{id}/images"
        ],
    }

    def fail(where: str, exc: BaseException) -> None:
        out["errors"][where] += 1
        if len(out["first_errors"]) < 5:
            out["first_errors"].append(f"{where}: {_error(exc)}")

    owners: list[tuple[str, str]] = []
    started = time.monotonic()
    try:
        offset, size = 0, None
        while size is None or offset < size:
            out["calls"]["assortment"] += 1
            page = assortment.get_assortment(limit=1000, offset=offset, filter=params.get("filter"))
            size = int(page.meta.size) if page.meta and page.meta.size is not None else 0
            for row in page.rows or []:
                out["rows"] += 1
                count = row.images.meta.size if row.images and row.images.meta else 0
                if count and row.id:
                    owners.append((str(row.meta.type) if row.meta and row.meta.type else "product", row.id))
            offset += 1000
        out["calls"]["stock"] += 1
        stock = ReportsStockCurrentApi(client).get_stock_by_store_current(
            include="zeroLines", stock_type=params.get("stock_type", "stock")
        )
        out["stock_rows"] = len(stock)
    except Exception as exc:
        fail("extraction", exc)
        out["seconds"] = round(time.monotonic() - started, 2)
        return _finish(out)
    out["image_owners"] = len(owners)
    for type_, oid in owners:
        try:
            if type_ == "product":
                out["calls"]["product images"] += 1
                images = products.get_product_images(oid)
            else:
                out["calls"][f"{type_} images (generic call)"] += 1
                images = _generic_images(client, type_, oid, auth)
            out["images"] += len(images.rows or [])
        except Exception as exc:
            fail("images", exc)
    out["completed"] = True
    out["seconds"] = round(time.monotonic() - started, 2)
    return _finish(out)


def _generic_images(client: Any, type_: str, oid: str, auth: list[str]) -> Any:
    serialized = client.param_serialize(
        method="GET", resource_path=f"/entity/{type_}/{{id}}/images", path_params={"id": oid}, auth_settings=auth
    )
    response = client.call_api(*serialized)
    response.read()
    return client.response_deserialize(
        response_data=response, response_types_map={"200": "GetProductImages200Response"}
    ).data


def _finish(out: dict[str, Any]) -> dict[str, Any]:
    out["calls"], out["errors"] = dict(out["calls"]), dict(out["errors"])
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    sdk, import_seconds = _import_sdk()
    print("ready", flush=True)
    params = json.loads(sys.stdin.readline())
    try:
        result = extract(sdk, params)
    except Exception as exc:
        result = {"sdk": SDK_NAME, "completed": False, "first_errors": [f"peer: {_error(exc)}"]}
    result["import_seconds"] = round(import_seconds, 1)
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
