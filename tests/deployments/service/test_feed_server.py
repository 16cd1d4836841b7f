"""The feed server as the CRM and a prober meet it: secret URL, one bare 404, no half-open sockets kept."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from connectors.retailcrm.convert.icml import IcmlOffer, write_icml
from deployments.service.feed_server import (
    FeedExposureError,
    FeedServer,
    check_exposure,
    feed_app,
    feed_url,
)

SECRET = "s3cr3t-feed-path-token-0123456789"


def ask(app: Starlette, *requests: tuple[str, str, dict[str, str]]) -> list[httpx.Response]:
    """Send ``(method, path, headers)`` requests to an ASGI app in order."""

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f") as http:
            return [await http.request(m, p, headers=h) for m, p, h in requests]

    return asyncio.run(go())


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "main.xml"
    write_icml(
        path,
        shop_name="s",
        company="c",
        categories=[],
        offers=[IcmlOffer(id="o1", product_id="p1", name="Шарф", product_name="Шарф")],
    )
    return path


def test_only_the_secret_url_serves_and_every_refusal_is_the_same_bare_404(feed: Path, tmp_path: Path) -> None:
    app = feed_app({"main": feed, "other": tmp_path / "other.xml"}, {"main": SECRET, "other": SECRET + "x"})
    url = feed_url("http://f", "main", SECRET)
    (ok,) = ask(app, ("GET", url, {}))
    again, posted, *refusals = ask(
        app,
        ("GET", url, {"If-None-Match": ok.headers["etag"]}),
        ("POST", url, {}),
        *(
            ("GET", path, {})
            for path in (
                "/feeds/main/wrong-secret-of-the-same-len.xml",
                "/feeds/main.xml",
                "/feeds/nope.xml",
                f"/feeds/nope/{SECRET}.xml",
                f"/feeds/other/{SECRET}.xml",
                "/",
                "/feeds/",
            )
        ),
    )
    assert ok.status_code == 200 and ok.content == feed.read_bytes() and "xml" in ok.headers["content-type"]
    assert again.status_code == 304
    for answer in [*refusals, posted]:
        assert (answer.status_code, answer.text) == (404, "not found\n"), answer.request.url
    assert "main" not in refusals[2].text and "other" not in refusals[2].text


def test_an_integration_without_a_secret_is_served_bare_but_only_on_loopback(feed: Path) -> None:
    app = feed_app({"main": feed})
    assert ask(app, ("GET", "/feeds/main.xml", {}))[0].status_code == 200
    check_exposure("127.0.0.1", {"main": feed}, {})
    with pytest.raises(FeedExposureError, match="main: no feed secret"):
        check_exposure("0.0.0.0", {"main": feed}, {})
    with pytest.raises(FeedExposureError, match="shorter than"):
        check_exposure("127.0.0.1", {"main": feed}, {"main": "short"})
    check_exposure("0.0.0.0", {"main": feed}, {"main": SECRET})


def test_half_open_connections_are_closed_after_the_header_timeout(feed: Path) -> None:
    app = feed_app({"main": feed}, {"main": SECRET})
    with FeedServer(app, header_timeout=0.5) as server:
        port = int(server.url.rsplit(":", 1)[1])
        silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        partial = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        for sock in partial:
            sock.sendall(b"GET /feeds/main/" + SECRET.encode() + b".xml HTTP/1.1\r\nHost: f\r\n")
        # a complete request on a kept-alive connection is answered, then that idle socket is closed too
        answered = socket.create_connection(("127.0.0.1", port), timeout=5)
        answered.sendall(b"GET /feeds/main/" + SECRET.encode() + b".xml HTTP/1.1\r\nHost: f\r\n\r\n")
        assert answered.recv(12).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        for sock in [*silent, *partial]:
            sock.settimeout(max(0.1, started + 4 - time.monotonic()))
            assert sock.recv(1) == b"", "the server should close a connection that never sent its headers"
            sock.close()
        assert time.monotonic() - started < 4
        answered.close()


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_near_miss_paths_get_the_same_bare_404_and_never_a_redirect(feed: Path, tmp_path: Path, method: str) -> None:
    app = feed_app({"main": feed, "open": feed}, {"main": SECRET})
    paths = [
        f"/feeds/main/{SECRET}.xml/",
        f"/feeds/main/{SECRET}.xml//",
        f"/feeds/main//{SECRET}.xml",
        f"/feeds/main/{SECRET}/",
        "/feeds/main/",
        "/feeds/main",
        "/feeds/open.xml/",
        "/feeds/open/",
        "/feeds/open",
        "/feeds/",
        "/feeds",
        "/feedsx",
        f"/feeds/main/{SECRET}.xml/x",
        "/hooks/",
    ]
    answers = ask(app, *((method, path, {}) for path in paths))
    assert [(a.status_code, a.headers.get("location")) for a in answers] == [(404, None)] * len(paths)
    if method != "HEAD":
        assert {a.text for a in answers} == {"not found\n"}
    # the right URLs still serve
    assert [
        a.status_code for a in ask(app, ("GET", f"/feeds/main/{SECRET}.xml", {}), ("GET", "/feeds/open.xml", {}))
    ] == [200, 200]


@pytest.mark.parametrize("secret", [SECRET[:10] + "/" + SECRET[10:], SECRET + "?x", SECRET + "%2F", SECRET + " x"])
def test_a_secret_that_cannot_be_one_path_segment_is_refused_before_serving(feed: Path, secret: str) -> None:
    for refuse in (
        lambda: check_exposure("127.0.0.1", {"main": feed}, {"main": secret}),
        lambda: feed_app({"main": feed}, {"main": secret}),
    ):
        with pytest.raises(FeedExposureError, match=r"main \(options.feed.path_secret\) holds a character") as caught:
            refuse()
        assert secret not in str(caught.value) and len(str(caught.value).splitlines()) == 1
