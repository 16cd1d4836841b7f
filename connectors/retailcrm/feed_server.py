"""Serve ICML feeds over HTTP at a stable URL per integration: ``GET /feeds/{integration}.xml``.

That URL is what the CRM's store settings point to (``ymlUrl``). Feeds are files written
atomically by :func:`connectors.retailcrm.icml.write_icml`, so a reader never sees a partial one;
``ETag``/``Last-Modified`` let the CRM skip unchanged catalogs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route


def feed_url(base_url: str, integration: str) -> str:
    """The stable feed URL of ``integration`` on a feed server at ``base_url``."""
    return f"{base_url.rstrip('/')}/feeds/{integration}.xml"


def feed_app(feeds: Mapping[str, Path]) -> Starlette:
    """An ASGI app serving ``feeds`` (integration name → ICML file path).

    Answers 404 with a plain-text reason for an unknown integration, 503 when the integration is
    known but its feed has not been generated yet, 304 for a matching ``If-None-Match``.
    """
    paths = {name: Path(path) for name, path in feeds.items()}

    async def serve_feed(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in paths:
            known = ", ".join(sorted(paths)) or "none"
            return PlainTextResponse(f"no ICML feed for integration {name!r} (known: {known})\n", 404)
        path = paths[name]
        try:
            stat = path.stat()
        except FileNotFoundError:
            return PlainTextResponse(f"the feed of {name!r} has not been generated yet\n", 503,
                                     headers={"Retry-After": "60"})
        etag = '"' + hashlib.sha1(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
                   "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type="application/xml; charset=utf-8", headers=headers, stat_result=stat)

    return Starlette(routes=[Route("/feeds/{name}.xml", serve_feed, methods=["GET", "HEAD"])])
