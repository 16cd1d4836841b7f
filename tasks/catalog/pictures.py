"""Pictures the hub serves itself, for sources that give no public link (a tariff that gives none).

A feed must carry links a channel can load without our credentials. When the source has none for an
image, the feed carries the hub's own URL for it (:func:`picture_url`); the feed server answers it
from this cache. The cache keeps one file per (image, ``updated``): the source is asked for an image
once per change of it, whatever the number of channels and polls, and a channel's conditional GET
is answered 304 from the ETag alone. Concurrent requests for one image wait for one download.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hub.capabilities import PictureSource
from hub.config import Config
from hub.store import Store
from tasks.clients import open_capability

#: how long the index of staged images is trusted before it is read again (a full import may add some)
INDEX_SECONDS = 30.0


def picture_version(image_id: str, updated: str) -> str:
    """A short name of one version of an image (it changes when the image's ``updated`` does)."""
    return hashlib.sha1(f"{image_id}:{updated}".encode()).hexdigest()[:16]


def _updated(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def picture_url(base_url: str, integration: str, secret: str | None, image_id: str, version: str) -> str:
    """The hub's URL of an image: ``<base>/images/<integration>/<secret>/<image id>?v=<version>``.

    The version makes a changed image a new URL: portals that keep pictures by URL fetch it again,
    and the server knows at once that its index is behind."""
    base = base_url.rstrip("/")
    path = f"{integration}/{secret}/{image_id}" if secret else f"{integration}/{image_id}"
    return f"{base}/images/{path}?v={version}"


def with_hub_links(images: pd.DataFrame, base_url: str, integration: str, secret: str | None) -> pd.DataFrame:
    """``images`` with the hub's URL where the source gave no public link but a download link."""
    missing = images["url"].isna() & images["download_url"].notna() & images["image_id"].notna()
    if not missing.any():
        return images
    images = images.copy()
    images.loc[missing, "url"] = [
        picture_url(base_url, integration, secret, str(i), picture_version(str(i), _updated(u)))
        for i, u in zip(images.loc[missing, "image_id"], images.loc[missing, "updated_at"], strict=True)
    ]
    return images


@dataclass(frozen=True)
class CachedPicture:
    """A picture on disk, with what a conditional GET is answered by."""

    path: Path
    etag: str
    media_type: str


@dataclass
class _Index:
    at: float
    images: dict[str, tuple[str, str]]  # image id -> (download url, updated)


class PictureCache:
    """The cache the feed server answers ``/images/...`` from (one per server process)."""

    def __init__(self, config: Config, store: Store, directory: Path) -> None:
        self.config, self.store, self.directory = config, store, Path(directory)
        self._indexes: dict[str, _Index] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.downloads = 0  # how many times the source was asked (one per image change)

    def _index(self, integration: str, image_id: str, version: str | None) -> dict[str, tuple[str, str]]:
        """The staged images, read again when old, or when asked for an image or a version it does not
        have (a full import has just staged it), at most once a second."""
        index = self._indexes.get(integration)
        now = time.monotonic()
        behind = index is not None and (
            image_id not in index.images
            or (version is not None and version != picture_version(image_id, index.images[image_id][1]))
        )
        if index is None or now - index.at > INDEX_SECONDS or (behind and now - index.at > 1.0):
            images: dict[str, tuple[str, str]] = {}
            for part in self.store.records.iter_frames(integration, "images"):
                for iid, url, updated in zip(part["image_id"], part["download_url"], part["updated_at"], strict=True):
                    if not pd.isna(iid) and not pd.isna(url):
                        images[str(iid)] = (str(url), _updated(updated))
            index = self._indexes[integration] = _Index(now, images)
        return index.images

    async def get(self, integration: str, image_id: str, version: str | None = None) -> CachedPicture | None:
        """The picture ``image_id`` of ``integration`` (``version``: the one its URL names), downloaded
        when the current version is not on disk; None when the hub holds no such image (a 404)."""
        if integration not in self.config.integrations:
            return None
        found = self._index(integration, image_id, version).get(image_id)
        if found is None:
            return None
        download_url, updated = found
        version = picture_version(image_id, updated)
        folder = self.directory / integration / image_id
        body, kind = folder / f"{version}.bin", folder / f"{version}.type"
        lock = self._locks.setdefault((integration, image_id), asyncio.Lock())
        async with lock:
            if not body.exists():
                picture = await self._download(integration, download_url)
                folder.mkdir(parents=True, exist_ok=True)
                for old in folder.iterdir():  # an older version of the image is of no more use
                    old.unlink(missing_ok=True)
                _write_atomically(kind, picture.media_type.encode())
                _write_atomically(body, picture.content)
        return CachedPicture(body, f'"{version}"', kind.read_text() if kind.exists() else "application/octet-stream")

    async def _download(self, integration: str, download_url: str) -> _Picture:
        integ = self.config.integration(integration)
        edge = integ.edge("catalog")
        if edge is None:
            raise LookupError(f"{integration} has no catalog edge: it publishes no pictures")
        async with open_capability(integ, edge.source, PictureSource) as source:
            picture = await source.picture(download_url)
        self.downloads += 1
        return _Picture(picture.content, picture.media_type)


@dataclass(frozen=True)
class _Picture:
    content: bytes
    media_type: str


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pictures_of(
    config: Config, feeds: Mapping[str, Path]
) -> Callable[[str, str, str | None], Awaitable[CachedPicture | None]] | None:
    """What a feed server answers ``/images/...`` with, when an integration it serves gives the hub's
    picture URLs (``options.feed.images_url``); None otherwise. The cache is kept next to the feeds."""
    if not any(config.integration(name).options.feed.images_url for name in feeds):
        return None
    from tasks.hub_tasks import open_hub_store

    # the store stays open for the server's life: each miss of the index reads the staged images
    cache = PictureCache(config, open_hub_store(config), next(iter(feeds.values())).parent / ".pictures")
    return cache.get
