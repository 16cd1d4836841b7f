"""History paging (``orders/history``, ``customers/history``) as a small cursor class.

retailCRM pages history by ``filter[sinceId]`` = the last record id seen, always asking for page 1
(php doc/usage/examples/orders_history.md), never by ``page``: new records arriving while we read
would shift pages under us. By default records made by our own key (``apiKey.current``) are taken
for echoes of our writes and skipped, the cursor still advancing over them (1C-configuration PR #89);
a reader that knows what the hub wrote asks for them all (``skip_own=False``) and tells the hub's
echoes from a site module's or script's changes made with the same key itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from connectors.paging import SinceIdPaginator
from connectors.retailcrm.wire.conventions import PAGE_LIMIT, query


class _Caller(Protocol):
    """What history paging needs of the client."""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]: ...


def is_own_echo(record: dict[str, Any]) -> bool:
    """A record made through the reading key itself."""
    api_key = record.get("apiKey")
    return isinstance(api_key, dict) and bool(api_key.get("current"))


class HistoryPages:
    """``async for records in pages`` yields each page's foreign records (possibly empty).

    Attributes:
        last_id: the largest history id read so far (the cursor to persist after applying a page);
            ``since_id`` until the first record arrives.
        skipped: how many own-key records were dropped (none with ``skip_own=False``).

    Raises (while iterating):
        PagingLoopError: a page did not advance past the cursor (the server ignores ``sinceId``).
    """

    def __init__(
        self,
        client: _Caller,
        path: str,
        since_id: int | None,
        *,
        mirror: str | None = None,
        skip_own: bool = True,
    ) -> None:
        self._client = client
        self._path = path
        self._mirror = mirror
        self._skip_own = skip_own
        self.skipped = 0
        self._paging = SinceIdPaginator(
            since_id,
            system="retailcrm",
            endpoint=path,
            rows=_records,
            limit=PAGE_LIMIT,
            # one page in all means this one was the last
            is_last=lambda body: int((body.get("pagination") or {}).get("totalPageCount") or 1) <= 1,
        )

    @property
    def last_id(self) -> int | None:
        """The cursor: the largest history id read so far."""
        return self._paging.current

    @property
    def finished(self) -> bool:
        """True once the last page was read (nothing after :attr:`last_id` right now)."""
        return self._paging.finished

    def __aiter__(self) -> HistoryPages:
        return self

    async def __anext__(self) -> list[dict[str, Any]]:
        if self._paging.finished:
            raise StopAsyncIteration
        filters = {"sinceId": self.last_id} if self.last_id is not None else None
        body = await self._client._call("GET", self._path, params=query(filters, limit=PAGE_LIMIT), endpoint=self._path)
        self._paging.advance(body)
        records = _records(body)
        if not records:
            raise StopAsyncIteration
        if self._mirror:
            setattr(self._client, self._mirror, self.last_id)
        foreign = [r for r in records if not (self._skip_own and is_own_echo(r))]
        self.skipped += len(records) - len(foreign)
        return foreign


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("history") or [])
