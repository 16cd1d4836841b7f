"""Serve ICML feeds to the CRM at a URL only it knows: ``GET /feeds/{integration}/{secret}.xml``.

That URL is what the CRM's store settings point to (``ymlUrl``). The CRM loads it with a plain GET
and no credentials of ours, so the protection it can live with is an unguessable per-integration
secret in the path (the feed carries purchase prices and stock). Unknown integration and wrong
secret, another method and any other path under ``/feeds`` (a trailing slash, a segment more)
answer the same bare 404, so the server tells a prober nothing, not even which names exist: one
route takes every path under ``/feeds`` and parses it itself, so Starlette never answers a
near-miss with its trailing-slash redirect. A secret that cannot stand in one path segment (a
``/``, ``?``, ``%``…) is refused before serving, not served at a URL nothing can reach.

An integration without a secret is served at ``/feeds/{integration}.xml``, but :func:`serve_feeds`
allows that only on a loopback interface (tests, the demo): nothing outside the machine reaches it.

Feeds are files written atomically by :func:`connectors.retailcrm.convert.icml.write_icml`, so a reader
never sees a partial one; ``ETag``/``Last-Modified`` let the CRM skip unchanged catalogs.
It runs on the hardened uvicorn set-up every server of the hub shares (:mod:`deployments.service.http_server`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from deployments.service.http_server import HEADER_TIMEOUT, server_config

#: a secret shorter than this is refused: it has to withstand guessing over the internet
MIN_SECRET_LENGTH = 16
#: what a secret may hold: characters that stand for themselves in one URL path segment
SECRET_CHARACTERS = "A-Z a-z 0-9 - . _ ~ + ="
_SECRET = re.compile(r"[A-Za-z0-9._~+=-]+")
#: what the route's catch-all ``rest`` may be: /{name}.xml or /{name}/{secret}.xml
_OPEN_REST = re.compile(r"/(?P<name>[^/]+)\.xml")
_GUARDED_REST = re.compile(r"/(?P<name>[^/]+)/(?P<secret>[^/]+)\.xml")


class FeedExposureError(ValueError):
    """The feeds cannot be served as asked without exposing one of them."""


def feed_url(base_url: str, integration: str, secret: str | None = None) -> str:
    """The feed URL of ``integration`` on a feed server at ``base_url`` (with its secret, if any)."""
    base = base_url.rstrip("/")
    return f"{base}/feeds/{integration}/{secret}.xml" if secret else f"{base}/feeds/{integration}.xml"


def _not_found() -> Response:
    # one body for every refusal: naming integrations would help whoever guesses secrets
    return PlainTextResponse("not found\n", 404)


#: what answers ``/images/...``: (integration, image id, version asked) -> the cached picture, None when unknown
Pictures = Callable[[str, str, str | None], Awaitable[Any]]
_OPEN_PICTURE = re.compile(r"/(?P<name>[^/]+)/(?P<image>[0-9A-Za-z-]+)")
_GUARDED_PICTURE = re.compile(r"/(?P<name>[^/]+)/(?P<secret>[^/]+)/(?P<image>[0-9A-Za-z-]+)")


def feed_app(
    feeds: Mapping[str, Path], secrets: Mapping[str, str] | None = None, pictures: Pictures | None = None
) -> Starlette:
    """An ASGI app serving ``feeds`` (integration → ICML file), guarded by ``secrets`` (integration → secret).

    An integration with a secret is served only at ``/feeds/{name}/{secret}.xml``; one without, only
    at ``/feeds/{name}.xml``. Any other path, name or secret answers the same 404. 503 when the feed
    has not been generated yet, 304 for a matching ``If-None-Match``.
    """
    check_secrets(secrets or {})
    paths = {name: Path(path) for name, path in feeds.items()}
    keys = {name: secret.encode() for name, secret in (secrets or {}).items() if secret}

    async def feed(request: Request) -> Response:
        rest = request.path_params["rest"]
        if (bare := _OPEN_REST.fullmatch(rest)) is not None:
            return open_feed(bare["name"], request)
        if (guarded := _GUARDED_REST.fullmatch(rest)) is not None:
            return guarded_feed(guarded["name"], guarded["secret"].encode(), request)
        return _not_found()

    def guarded_feed(name: str, given: bytes, request: Request) -> Response:
        # compared even for an unknown name, so the answer's timing does not tell names apart
        expected = keys.get(name, b"\0" * MIN_SECRET_LENGTH)
        if not hmac.compare_digest(given, expected) or name not in keys or name not in paths:
            return _not_found()
        return _file(paths[name], request.headers.get("if-none-match"), request.headers.get("if-modified-since"))

    def _file(path: Path, if_none_match: str | None = None, if_modified_since: str | None = None) -> Response:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return PlainTextResponse("the feed has not been generated yet\n", 503, headers={"Retry-After": "60"})
        etag = '"' + hashlib.sha1(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": formatdate(stat.st_mtime, usegmt=True), "Cache-Control": "no-cache"}
        if if_none_match == etag or (if_none_match is None and _not_modified_since(if_modified_since, stat.st_mtime)):
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type="application/xml; charset=utf-8", headers=headers, stat_result=stat)

    def open_feed(name: str, request: Request) -> Response:
        if name not in paths or name in keys:
            return _not_found()
        return _file(paths[name], request.headers.get("if-none-match"), request.headers.get("if-modified-since"))

    async def refused(request: Request, exc: Exception) -> Response:
        return _not_found()

    async def picture(request: Request) -> Response:
        # the pictures of a feed, behind the feed's own secret (tariffs that give no public link)
        rest = request.path_params["rest"]
        if pictures is None:
            return _not_found()
        if (guarded := _GUARDED_PICTURE.fullmatch(rest)) is not None:
            expected = keys.get(guarded["name"], b"\0" * MIN_SECRET_LENGTH)
            if not hmac.compare_digest(guarded["secret"].encode(), expected) or guarded["name"] not in keys:
                return _not_found()
            found = await pictures(guarded["name"], guarded["image"], request.query_params.get("v"))
        elif (bare := _OPEN_PICTURE.fullmatch(rest)) is not None and bare["name"] not in keys:
            found = await pictures(bare["name"], bare["image"], request.query_params.get("v"))
        else:
            return _not_found()
        if found is None:
            return _not_found()
        headers = {"ETag": found.etag, "Cache-Control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        return FileResponse(found.path, media_type=found.media_type, headers=headers)

    # one route for every path under /feeds: feed() parses it, so no near-miss is redirected
    return Starlette(
        routes=[
            Route("/feeds{rest:path}", feed, methods=["GET", "HEAD"]),
            Route("/images{rest:path}", picture, methods=["GET", "HEAD"]),
        ],
        exception_handlers={404: refused, 405: refused},
    )


def _not_modified_since(header: str | None, mtime: float) -> bool:
    """Whether a conditional GET's ``If-Modified-Since`` covers a file changed at ``mtime`` (a loader
    that keeps only the date, as many feed loaders do; ``If-None-Match`` wins when both are sent)."""
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False  # a malformed date: answer in full, as RFC 9110 says
    return since.tzinfo is not None and int(mtime) <= since.timestamp()


def check_secrets(secrets: Mapping[str, str]) -> None:
    """Refuse a secret that cannot be one path segment: its feed would answer 404 to every request."""
    unusable = sorted(name for name, secret in secrets.items() if secret and not _SECRET.fullmatch(secret))
    if unusable:
        raise FeedExposureError(
            f"feed secret of {', '.join(unusable)} (options.feed.path_secret) holds a character that cannot "
            f"stand in a URL path segment, such as '/': use only {SECRET_CHARACTERS}; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an interface nothing outside this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, feeds: Mapping[str, Path], secrets: Mapping[str, str]) -> None:
    """Refuse to serve a feed whose secret is unusable, or, on a reachable interface, one without a secret
    or with a short one."""
    check_secrets({name: secret for name, secret in secrets.items() if name in feeds})
    short = sorted(name for name in feeds if secrets.get(name) and len(secrets[name]) < MIN_SECRET_LENGTH)
    if short:
        raise FeedExposureError(
            f"feed secret of {', '.join(short)} is shorter than {MIN_SECRET_LENGTH} "
            "characters: generate one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))'`"
        )
    bare = sorted(name for name in feeds if not secrets.get(name))
    if bare and not is_loopback(host):
        raise FeedExposureError(
            f"{', '.join(bare)}: no feed secret (options.feed.path_secret), so the feed with purchase prices "
            f"and stock would be public on {host}; set a secret or serve on 127.0.0.1"
        )


def serve_feeds(
    feeds: Mapping[str, Path],
    secrets: Mapping[str, str],
    host: str,
    port: int,
    header_timeout: float = HEADER_TIMEOUT,
    pictures: Pictures | None = None,
) -> None:
    """Check the exposure, then serve until Ctrl-C (``skladbridge feed serve``)."""
    check_exposure(host, feeds, secrets)
    app = feed_app(feeds, secrets, pictures)
    uvicorn.Server(server_config(app, host, port, header_timeout=header_timeout)).run()


class FeedServer:
    """A feed server in a background thread (tests and the sandbox world): a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, header_timeout: float = HEADER_TIMEOUT):
        if port == 0:
            from connectors.sandboxing import free_port

            port = free_port()
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(server_config(app, host, port, header_timeout=header_timeout))
        self._thread = threading.Thread(target=self._server.run, name=f"feeds:{port}", daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"feed server did not start at {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
