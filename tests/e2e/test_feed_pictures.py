"""Pictures on every tariff: a free MoySklad account (no permanent image links) still gets every
picture into the feed, through the hub's own URL, and each picture is downloaded from MoySklad once
while its ``updated`` is unchanged — however many times the portal fetches it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.files import image_bytes
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer, free_port
from connectors.yml.sandbox.portal import YmlPortal
from deployments.service.feed_server import FeedServer, feed_app, feed_url
from hub.config import load_config
from tasks.catalog.pictures import pictures_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

SECRET = "picture-path-secret-0123456789"
CONFIG = """
database_url: sqlite:///{db}
integrations:
  agora:
    systems:
      ms: {{system: moysklad, base_url: "{ms_url}", login: admin@free, password: "${{PICTURES_TEST_MS_PASSWORD}}"}}
      portal: {{system: yml, base_url: "https://portal.example.com", outlets: ["1"], pictures: 10}}
    flows:
      catalog: {{from: ms, to: portal}}
    mappings:
      stores: {{Основной склад: "1"}}
    options:
      feed: {{dir: feeds, path_secret: "${{PICTURES_TEST_SECRET}}", images_url: "{hub_url}"}}
"""


@dataclass
class FreeWorld:
    moysklad: MoySkladSandbox
    config_path: Path
    portal: YmlPortal
    hub_url: str


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FreeWorld]:
    password = secrets.token_urlsafe(12)
    moysklad = MoySkladSandbox(token=None, login="admin@free", password=password, token_kind="user", paid_tariff=False)
    seed_catalog(moysklad, 8, variants_ratio=0.0, stores=1, images_ratio=1.0, seed=5)
    monkeypatch.setenv("PICTURES_TEST_MS_PASSWORD", password)
    monkeypatch.setenv("PICTURES_TEST_SECRET", SECRET)
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    with LoopbackServer(moysklad.app) as ms:
        config_path = tmp_path / "skladbridge.yaml"
        config_path.write_text(
            CONFIG.format(db=tmp_path / "skladbridge.db", ms_url=f"{ms.url}/api/remap/1.2", hub_url=hub_url),
            encoding="utf-8",
        )
        config = load_config(config_path)
        feeds = {"agora": tmp_path / "feeds" / "agora.xml"}
        app = feed_app(feeds, {"agora": SECRET}, pictures_of(config, feeds))
        with FeedServer(app, port=port):
            yield FreeWorld(moysklad, config_path, YmlPortal(feed_url(hub_url, "agora", SECRET)), hub_url)


def downloads(world: FreeWorld) -> int:
    """Authenticated image downloads MoySklad answered (each costs a request of the budget)."""
    return sum(1 for r in world.moysklad.log if r.path.startswith("/download/") and r.status == 302)


def image_id(link: str) -> str:
    return link.rsplit("/", 1)[1].split("?", 1)[0]


def images_by_id(world: FreeWorld) -> dict[str, dict[str, object]]:
    return {
        str(img["meta"]["href"]).rsplit("/", 1)[-1]: img
        for owned in world.moysklad.store.images.values()
        for img in owned
    }


def test_a_free_account_gets_every_picture_through_the_hub_once_per_change(world: FreeWorld) -> None:
    from flows.full_import import full_import

    full_import("agora", config_path=str(world.config_path))
    catalog = world.portal.load()
    links = [p for offer in catalog.offers.values() for p in offer.pictures]
    images = images_by_id(world)
    assert len(images) >= 8, "every product has 1-3 images"
    # every picture is in the feed, each as the hub's URL (MoySklad gave no permanent link)
    assert sorted(image_id(link) for link in links) == sorted(images)
    assert all(link.startswith(f"{world.hub_url}/images/agora/{SECRET}/") for link in links)
    assert downloads(world) == 0, "nothing is downloaded before a portal asks"

    with httpx.Client() as http:
        first = [http.get(link) for link in links]
        assert [a.status_code for a in first] == [200] * len(links)
        for link, answer in zip(links, first, strict=True):
            assert answer.content == image_bytes(images[image_id(link)])  # type: ignore[arg-type]
            assert answer.headers["content-type"] == "image/jpeg"
        assert downloads(world) == len(images)
        # the portal polls again, conditionally and not: MoySklad is not asked again
        again = [
            http.get(link, headers={"If-None-Match": a.headers["etag"]}) for link, a in zip(links, first, strict=True)
        ]
        plain = [http.get(link) for link in links]
        assert {a.status_code for a in again} == {304} and {a.status_code for a in plain} == {200}
        assert downloads(world) == len(images)
        # a wrong secret or an unknown image is a bare 404, and asks MoySklad nothing
        wrong = http.get(links[0].replace(SECRET, "x" * len(SECRET)))
        unknown = http.get(f"{world.hub_url}/images/agora/{SECRET}/00000000-0000-0000-0000-000000000000")
        assert (wrong.status_code, unknown.status_code) == (404, 404) and wrong.text == "not found\n"

        # one image changes in MoySklad (its owner's updated moves with it): one more download
        changed_id = image_id(links[0])
        owner_id = next(
            o for o, owned in world.moysklad.store.images.items() if any(i is images[changed_id] for i in owned)
        )
        images[changed_id]["updated"] = "2026-12-01 10:00:00.000"
        owner_type = "product" if world.moysklad.store.get("product", owner_id) else "variant"
        owner = world.moysklad.store.get(owner_type, owner_id)
        assert owner is not None
        world.moysklad.store.put(owner_type, dict(owner))  # a new ``updated``: its images are read again
        full_import("agora", config_path=str(world.config_path))
        relinked = [p for offer in world.portal.load().offers.values() for p in offer.pictures]
        moved = [link for link in relinked if link not in links]
        assert [image_id(link) for link in moved] == [changed_id], "the changed picture has a new URL"
        fresh = http.get(moved[0], headers={"If-None-Match": first[0].headers["etag"]})
        assert fresh.status_code == 200 and fresh.content == image_bytes(images[changed_id])  # type: ignore[arg-type]
        assert fresh.content != first[0].content
        etags = {link: a.headers["etag"] for link, a in zip(links, first, strict=True)}
        others = [http.get(link, headers={"If-None-Match": etags[link]}) for link in relinked if link in etags]
        assert len(others) == len(links) - 1 and {a.status_code for a in others} == {304}
        assert downloads(world) == len(images) + 1
