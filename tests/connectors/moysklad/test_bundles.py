"""Bundles (комплекты): the sandbox's shapes against the official spec, the client's reads, the frame.

One seeded account with ~200 bundles serves every test (three ``entity/bundle`` pages of 100);
``sandbox_bundles.EXPANDED_ROWS`` is lowered where a test needs bundles whose inline components are
cut short.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest

import connectors.moysklad.sandbox.bundles as sandbox_bundles
from connectors.moysklad.capabilities.catalog import MoySkladSide
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert.catalog import bundle_components_to_frame
from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.moysklad.sandbox.state import STORE_BASE, ref_id
from hub import model, systems
from hub.capabilities import BundleSource
from tests.connectors.moysklad.conftest import BASE, DAY, TOKEN, raw_client, run
from tests.connectors.moysklad.spec import SPEC, SpecValidator
from tests.shared_apis import require

PRODUCTS, RATIO, SEED = 120, 1.75, 11
ITEM_HREF = re.compile(rf"^{re.escape(BASE)}/entity/(product|variant)/[0-9a-f-]{{36}}$")


@pytest.fixture
def sandbox() -> MoySkladSandbox:
    """The conftest account's rules (app token, login for user weights), with bundles."""
    sb = MoySkladSandbox(token=TOKEN, token_kind="app", login="admin@shop", password="s3cret-pass", today=DAY)
    seed_catalog(sb, PRODUCTS, bundles_ratio=RATIO, seed=SEED)
    return sb


def stored(sb: MoySkladSandbox) -> dict[str, list[tuple[str, str, float]]]:
    """Every bundle's (type, id, quantity) components, from the store itself."""
    return {
        bid: [(c["assortment"]["meta"]["type"], ref_id(c["assortment"]) or "", c["quantity"]) for c in b["_components"]]
        for bid, b in sb.store.of_type("bundle").items()
    }


def get(sb: MoySkladSandbox, path: str, **params: Any) -> Any:
    async def go() -> httpx.Response:
        async with raw_client(sb) as c:
            return await c.get(path, params=params or None)  # an empty dict would drop a href's query

    response = run(go())
    assert response.status_code == 200, response.text
    return response.json()


# -- the generator ---------------------------------------------------------------------------------


def test_bundles_ratio_zero_is_the_old_account_and_bundles_add_nothing_else(sandbox: MoySkladSandbox) -> None:
    plain, default = MoySkladSandbox(), MoySkladSandbox()
    seed_catalog(plain, PRODUCTS, bundles_ratio=0, seed=SEED)
    seed_catalog(default, PRODUCTS, seed=SEED)
    assert plain.store.entities == default.store.entities and "bundle" not in plain.store.entities
    # a generator of its own: the products, variants, prices and stock are those of the plain account
    assert {t: v for t, v in sandbox.store.entities.items() if t != "bundle"} == plain.store.entities
    report = {"by_store": True, "stock_type": "quantity", "include_zero": True}
    assert sandbox.ledger.report(**report) == plain.ledger.report(**report)  # type: ignore[arg-type]


def test_generated_bundles_are_made_of_products_and_variants(sandbox: MoySkladSandbox) -> None:
    bundles = stored(sandbox)
    assert len(bundles) == round(PRODUCTS * RATIO)
    comps = [c for parts in bundles.values() for c in parts]
    assert all(2 <= len(parts) <= 3 for parts in bundles.values())
    assert all(len({cid for _, cid, _ in parts}) == len(parts) for parts in bundles.values())
    assert {t for t, _, _ in comps} == {"product", "variant"}
    assert all(sandbox.store.get(t, cid) is not None for t, cid, _ in comps)
    assert all(not sandbox.store.get(t, cid).get("variantsCount") for t, cid, _ in comps)  # type: ignore[union-attr]
    quantities = {q for _, _, q in comps}
    assert {1.0, 2.0, 3.0} <= quantities <= {0.5, 1.0, 1.5, 2.0, 3.0} and quantities & {0.5, 1.5}
    assert any(b["archived"] for b in sandbox.store.of_type("bundle").values())


# -- the sandbox's answers ---------------------------------------------------------------------------


def test_bundle_list_expand_components_at_100_and_not_above(sandbox: MoySkladSandbox) -> None:
    require(SPEC)
    spec = SpecValidator()
    expanded = get(sandbox, "/entity/bundle", limit=100, expand="components")
    assert spec.errors(spec.component("bundleList"), expanded) == []
    assert expanded["meta"]["size"] == sum(not b["archived"] for b in sandbox.store.of_type("bundle").values())
    assert len(expanded["rows"]) == 100 and "nextHref" in expanded["meta"]
    for row in expanded["rows"]:
        nested = row["components"]
        assert nested["meta"] == {
            "href": f"{BASE}/entity/bundle/{row['id']}/components",
            "type": "bundlecomponent",
            "mediaType": "application/json",
            "size": len(stored(sandbox)[row["id"]]),
            "limit": 1000,
            "offset": 0,
        }
        assert len(nested["rows"]) == nested["meta"]["size"]
        for comp in nested["rows"]:
            assert spec.errors(spec.component("bundleComponent"), comp) == []
            assert set(comp) == {"meta", "id", "accountId", "assortment", "quantity"}
            assert comp["meta"]["href"] == f"{nested['meta']['href']}/{comp['id']}"
            assert comp["meta"]["type"] == "bundlecomponent"
            assert ITEM_HREF.match(comp["assortment"]["meta"]["href"])
            assert comp["assortment"]["meta"]["type"] in ("product", "variant")
    collapsed = get(sandbox, "/entity/bundle", limit=101, expand="components")
    assert len(collapsed["rows"]) == 101
    assert all(set(r["components"]) == {"meta"} for r in collapsed["rows"])  # expand ignored above 100


def test_bundle_filters_archived_one_bundle_and_the_assortment(sandbox: MoySkladSandbox) -> None:
    require(SPEC)
    spec = SpecValidator()
    every = get(sandbox, "/entity/bundle", filter="archived=true;archived=false", limit=1000)
    assert every["meta"]["size"] == len(sandbox.store.of_type("bundle"))
    one = next(r for r in every["rows"] if not r["archived"])  # a plain list hides archived rows
    found = get(sandbox, "/entity/bundle", filter=f"code={one['code']}")
    assert [r["id"] for r in found["rows"]] == [one["id"]]
    single = get(sandbox, f"/entity/bundle/{one['id']}", expand="components.assortment")
    assert spec.errors(spec.component("bundle"), single) == []
    assert {c["assortment"]["id"] for c in single["components"]["rows"]} == {
        cid for _, cid, _ in stored(sandbox)[one["id"]]
    }
    listed = get(sandbox, "/entity/assortment", filter="type=bundle", limit=50, expand="components")
    assert listed["meta"]["size"] == every["meta"]["size"] - sum(r["archived"] for r in every["rows"])
    assert all(r["meta"]["type"] == "bundle" and "rows" in r["components"] for r in listed["rows"])
    assert all(spec.errors(spec.component("bundle"), r) == [] for r in listed["rows"])


def test_components_list_is_a_paged_meta_array(sandbox: MoySkladSandbox) -> None:
    require(SPEC)
    spec = SpecValidator()
    bid, parts = next((b, p) for b, p in stored(sandbox).items() if len(p) == 3)
    whole = get(sandbox, f"/entity/bundle/{bid}/components")
    # the spec types this answer as one bundleComponent (a slip); the docs and the API give the list
    assert spec.errors(spec.component("bundleComponentList"), whole) == []
    assert whole["meta"]["type"] == "bundlecomponent" and whole["meta"]["size"] == 3
    assert [(c["assortment"]["meta"]["type"], ref_id(c["assortment"]), c["quantity"]) for c in whole["rows"]] == parts
    first = get(sandbox, f"/entity/bundle/{bid}/components", limit=2)
    assert len(first["rows"]) == 2 and "offset=2" in first["meta"]["nextHref"]
    rest = get(sandbox, first["meta"]["nextHref"].removeprefix(BASE))  # the hrefs are followable
    assert [c["id"] for c in first["rows"] + rest["rows"]] == [c["id"] for c in whole["rows"]]
    expanded = get(sandbox, f"/entity/bundle/{bid}/components", expand="assortment", limit=100)
    assert [c["assortment"]["id"] for c in expanded["rows"]] == [cid for _, cid, _ in parts]

    async def missing() -> httpx.Response:
        async with raw_client(sandbox) as c:
            return await c.get(f"/entity/bundle/{'0' * 8}-0000-4000-8000-{'0' * 12}/components")

    assert run(missing()).status_code == 404
    assert STORE_BASE not in str(whole)


def test_bundle_reads_are_charged_like_every_list(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    assert run(_read(make_client(login="admin@shop", password="s3cret-pass")))
    assert {r.weight for r in sandbox.log} == {3}  # user credentials on DAY: the dated table's 3


# -- the client ------------------------------------------------------------------------------------


async def _read(ms: MoySkladClient) -> dict[str, list[dict[str, Any]]]:
    async with ms:
        return await ms.bundle_components()


def _as_parts(read: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[str, str, float]]]:
    return {
        bid: [(c["assortment"]["meta"]["type"], ref_id(c["assortment"]) or "", c["quantity"]) for c in rows]
        for bid, rows in read.items()
    }


def test_client_reads_every_bundle_in_pages_of_100(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    read = run(_read(make_client()))
    assert _as_parts(read) == stored(sandbox)  # archived bundles included
    pages = math.ceil(len(stored(sandbox)) / 100)
    assert len(sandbox.log) == pages
    assert all(
        r.path.endswith("/entity/bundle") and "limit=100" in r.query and "expand=components" in r.query
        for r in sandbox.log
    )


def test_client_reads_a_cut_short_bundle_whole(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # inline components are cut at 3: two bigger bundles are the only ones the client must read apart
    monkeypatch.setattr(sandbox_bundles, "EXPANDED_ROWS", 3)
    items = [("product", pid) for pid, p in sandbox.store.of_type("product").items() if not p["variantsCount"]]
    items += [("variant", vid) for vid in sandbox.store.of_type("variant")]
    big = {
        sandbox_bundles.add_bundle(
            sandbox.store,
            {"name": f"Большой набор {n}", "archived": n == 5},
            [(t, i, 1.0) for t, i in items[n : n * 2]],
        )["id"]
        for n in (4, 5)
    }
    read = run(_read(make_client()))
    assert _as_parts(read) == stored(sandbox)
    assert {len(read[b]) for b in big} == {4, 5}
    assert len(sandbox.log) == math.ceil(len(stored(sandbox)) / 100) + len(big)
    assert {r.path.rsplit("/", 2)[-2] for r in sandbox.log if r.path.endswith("/components")} == big


# -- the canonical frame and the capability --------------------------------------------------------


def _ref(type_: str, id_: str) -> dict[str, Any]:
    return {"meta": {"href": f"{STORE_BASE}/entity/{type_}/{id_}", "type": type_, "mediaType": "application/json"}}


def test_conversion_keeps_products_and_variants_with_fractional_quantities() -> None:
    frame = bundle_components_to_frame(
        {
            "b1": [
                {"assortment": _ref("product", "p1"), "quantity": 2.0},
                {"assortment": _ref("variant", "v1"), "quantity": 0.5},
                {"assortment": _ref("service", "s1"), "quantity": 1.0},
            ],  # no stock: never limits a bundle
            "b2": [
                {"assortment": {"id": "v2", **_ref("variant", "v2")}, "quantity": 1},  # expanded assortment
                {"assortment": _ref("product", "p1"), "quantity": 1.5},
                {"assortment": _ref("product", "p1"), "quantity": 1.0},  # listed twice: summed
                {"assortment": _ref("product", "p9"), "quantity": 0},
            ],
            "b3": [],
        }
    )
    assert list(frame.dtypes.astype(str)) == list(model.FRAMES["bundle_components"].values())
    assert frame.to_dict("records") == [
        {"offer_id": "b1", "component_id": "p1", "quantity": 2.0},
        {"offer_id": "b1", "component_id": "v1", "quantity": 0.5},
        {"offer_id": "b2", "component_id": "v2", "quantity": 1.0},
        {"offer_id": "b2", "component_id": "p1", "quantity": 2.5},
    ]
    assert bundle_components_to_frame({}).empty


def test_moysklad_is_a_bundle_source(sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]) -> None:
    connector = systems.connector("moysklad")
    assert connector.can(BundleSource)

    async def go() -> pd.DataFrame:
        async with make_client() as ms:
            side = connector.capabilities[BundleSource](ms, None)
            assert isinstance(side, BundleSource) and isinstance(side, MoySkladSide)
            return await side.bundle_components()

    frame = run(go())
    expected = {(bid, cid, q) for bid, parts in stored(sandbox).items() for _, cid, q in parts}
    assert set(frame.itertuples(index=False, name=None)) == expected
    assert (frame["component_id"].isin(list(sandbox.store.of_type("variant")))).any()
    assert (frame["quantity"] % 1 != 0).any()
