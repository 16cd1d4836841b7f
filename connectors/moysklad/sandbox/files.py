"""Image files, on any tariff: ``GET …/download/{image id}`` (authenticated, through the API's door)
answers 302 with a temporary link valid one minute that needs no auth, as MoySklad does
(``dictionaries/_images.md``: ``downloadHref``; ``X-Lognex-Download-Expiration-Seconds`` default 60).

The temporary link is served outside the API (no credential, no rate gate), like MoySklad's file
host. It is stateless: the expiry and a keyed hash of (account, image, expiry) are in the link.
A file's bytes are made from the image's id and ``updated``, so a changed image has new bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connectors.moysklad.sandbox.documents import ItemError
from connectors.moysklad.sandbox.state import Json
from connectors.sandboxing import Reply

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

#: how long a temporary link works (MoySklad's default)
LINK_SECONDS = 60
FILES_PATH = "/sandbox-files"


def _image(sb: Account, image_id: str) -> Json | None:
    for images in sb.store.images.values():
        for image in images:
            if str(image["meta"]["href"]).rsplit("/", 1)[-1] == image_id:
                return image
    return None


def _signature(sb: Account, image_id: str, expires: int) -> str:
    key = sb.store.account_id.encode()
    return hmac.new(key, f"{image_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:24]


def image_bytes(image: Json) -> bytes:
    """The file of an image: a JPEG's markers around its id and ``updated`` (new bytes on change)."""
    image_id = str(image["meta"]["href"]).rsplit("/", 1)[-1]
    return b"\xff\xd8\xff\xe0" + f"{image_id}:{image.get('updated')}".encode() + b"\xff\xd9"


def download(sb: Account, request: Request, image_id: str) -> Reply:
    """``GET /download/{id}``: 302 to the temporary link; 404 (error 1021) for an unknown image."""
    if _image(sb, image_id) is None:
        raise ItemError(1021, f"Объект с UUID '{image_id}' не найден", status=404)
    expires = int(time.time()) + LINK_SECONDS
    host = request.headers.get("host", "127.0.0.1")
    link = f"{request.url.scheme}://{host}{FILES_PATH}/{image_id}/{expires}/{_signature(sb, image_id, expires)}"
    return Reply(302, None, headers={"Location": link})


def files_route(sb: Account) -> Route:
    """The temporary links' host: the file while the link lives, 403 after (as a CDN answers)."""

    async def serve(request: Request) -> Response:
        image_id, expires = request.path_params["image_id"], int(request.path_params["expires"])
        expected = _signature(sb, image_id, expires)
        if not hmac.compare_digest(expected, request.path_params["signature"]) or time.time() > expires:
            return PlainTextResponse("link expired\n", 403)
        image = _image(sb, image_id)
        if image is None:
            return PlainTextResponse("not found\n", 404)
        return Response(image_bytes(image), media_type="image/jpeg")

    return Route(FILES_PATH + "/{image_id}/{expires:int}/{signature}", serve, methods=["GET"])
