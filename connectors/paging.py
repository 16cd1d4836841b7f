"""Paging as small classes, one per way an API pages, each with a loop guard.

A paginator holds the token of the page to ask for next (:attr:`Paginator.current`): an offset, a
page number, a ``sinceId`` or a next link. The caller fetches that page and hands the answer to
:meth:`Paginator.advance`, which moves to the next token or sets :attr:`Paginator.finished`;
:func:`follow` does both: ``async for body in follow(paging, fetch_page): ...``.

The loop guard raises :class:`PagingLoopError` instead of paging forever when the server says it
answered another page than the one asked for, hands back a token already followed, or returns the
very rows already read at another token (a server that ignores the paging parameters).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from connectors.http.errors import PagingLoopError

__all__ = [
    "NextLinkPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "Paginator",
    "PagingLoopError",
    "SinceIdPaginator",
    "follow",
]

TokenT = TypeVar("TokenT", bound=Hashable)
P = TypeVar("P")
Rows = Callable[[Any], Sequence[Any]]
Key = Callable[[Any], Hashable | None]
Count = Callable[[Any], int | None]


def page_as_rows(page: Any) -> Sequence[Any]:
    """The default ``rows``: a page that is a JSON array is its own rows."""
    return page if isinstance(page, list) else ()


def row_id(row: Any) -> Hashable | None:
    """The default ``row_key``: a row's ``id``, None when it has none."""
    return row.get("id") if isinstance(row, Mapping) else None


class Paginator(ABC, Generic[TokenT]):
    """The token of the next page, how to find the one after, and the loop guard.

    Args:
        start: the first token; ``system``, ``endpoint``: named in a :class:`PagingLoopError`.
        rows: the rows of an answer (default: the answer, if a list).
        row_key: a row's identity; pages whose rows all have one are remembered (as a hash) to
            notice a page coming back at another token.
        echoed: the token an answer says it is for, if the API says (``meta.offset``, ``currentPage``).
        limit: rows per page, if known: a shorter page is the last.

    Attributes:
        current: the token to ask for next; after the last page, the one the next page would have.
        finished: True when there is no next page.
        pages: how many answers were taken in.
    """

    what: ClassVar[str] = "page"  # the token's name in messages

    def __init__(
        self,
        start: TokenT,
        *,
        system: str,
        endpoint: str,
        rows: Rows = page_as_rows,
        row_key: Key = row_id,
        echoed: Callable[[Any], TokenT | None] | None = None,
        limit: int | None = None,
    ) -> None:
        self.current = start
        self.finished = False
        self.pages = 0
        self.system, self.endpoint = system, endpoint
        self.rows, self.row_key, self._echoed, self.limit = rows, row_key, echoed, limit
        self._followed: set[TokenT] = {start}
        self._read_at: dict[int, TokenT] = {}

    # -- hooks ---------------------------------------------------------------------------------
    @abstractmethod
    def next_token(self, page: Any) -> TokenT | None:
        """The token after the answer ``page`` (None: there is none)."""

    def has_more(self, page: Any) -> bool:
        """Whether a page follows the answer ``page`` (default: it has rows, and not fewer than ``limit``)."""
        count = len(self.rows(page))
        return count > 0 and (self.limit is None or count >= self.limit)

    def echoed(self, page: Any) -> TokenT | None:
        """The token the server says it answered, if it says (default: the ``echoed`` argument)."""
        return self._echoed(page) if self._echoed else None

    def advances(self, token: TokenT) -> bool:
        """Whether ``token`` leads somewhere new (default: it was not followed before)."""
        return token not in self._followed

    # -- the loop --------------------------------------------------------------------------------
    def advance(self, page: Any) -> None:
        """Take in the answer for :attr:`current` and move on to the next token, or finish.

        Raises:
            PagingLoopError: the answer or its next token is one already read.
        """
        if self.finished:
            raise RuntimeError(f"{self.endpoint}: paging already finished")
        self.check(page, self.current)
        token = self.next_token(page)
        if token is None:
            self.finished = True
            return
        if not self.advances(token):
            raise self.loop_error(f"{self.what} {token!r} came back, already read")
        self._followed.add(token)
        self.current = token
        self.finished = not self.has_more(page)

    def check(self, page: Any, token: TokenT) -> None:
        """The loop guard for one answer, asked for with ``token`` (also for pages read concurrently).

        Raises:
            PagingLoopError: the answer says it is for another token, or its rows were read at another.
        """
        self.pages += 1
        echoed = self.echoed(page)
        if echoed is not None and echoed != token:
            raise self.loop_error(f"asked for {self.what} {token!r}, the answer is {self.what} {echoed!r}")
        keys = [self.row_key(row) for row in self.rows(page)]
        if keys and None not in keys:
            first = self._read_at.setdefault(hash(tuple(keys)), token)
            if first != token:
                raise self.loop_error(f"{self.what} {token!r} brought the same rows as {self.what} {first!r}")

    def loop_error(self, what: str) -> PagingLoopError:
        """The error naming the endpoint and what came back."""
        return PagingLoopError(
            self.system, self.endpoint, None, f"{what}: following it would page forever (after {self.pages} pages)"
        )


class OffsetPaginator(Paginator[int]):
    """``offset``/``limit`` paging (MoySklad, Horoshop).

    Args:
        limit: rows per page; a page with fewer ends the collection.
        total: the collection size an answer gives, if the API gives one (MoySklad ``meta.size``).
        echoed: the offset an answer says it holds, if it says (MoySklad ``meta.offset``).
    """

    what = "offset"

    def __init__(
        self,
        limit: int,
        *,
        start: int = 0,
        system: str,
        endpoint: str,
        rows: Rows = page_as_rows,
        total: Count | None = None,
        echoed: Count | None = None,
        row_key: Key = row_id,
    ) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        super().__init__(
            start, system=system, endpoint=endpoint, rows=rows, row_key=row_key, echoed=echoed, limit=limit
        )
        self.step = limit
        self._total = total

    def next_token(self, page: Any) -> int:
        return self.current + self.step

    def has_more(self, page: Any) -> bool:
        total = self._total(page) if self._total else None
        return self.current < total if total is not None else super().has_more(page)

    def remaining(self, total: int) -> range:
        """The offsets after :attr:`current` up to ``total``, to read concurrently (and :meth:`check`)."""
        return range(self.current + self.step, total, self.step)


class PageNumberPaginator(Paginator[int]):
    """Page-number paging (retailCRM ``page``, keyCRM ``page``), 1-based by default.

    Args:
        total_pages: the page count an answer gives (retailCRM ``pagination.totalPageCount``).
        echoed: the page number an answer says it is (retailCRM ``pagination.currentPage``).
        limit: rows per page, when the API gives no page count: a shorter page is the last.
    """

    def __init__(
        self,
        *,
        start: int = 1,
        system: str,
        endpoint: str,
        rows: Rows = page_as_rows,
        total_pages: Count | None = None,
        echoed: Count | None = None,
        limit: int | None = None,
        row_key: Key = row_id,
    ) -> None:
        super().__init__(
            start, system=system, endpoint=endpoint, rows=rows, row_key=row_key, echoed=echoed, limit=limit
        )
        self._total_pages = total_pages

    def next_token(self, page: Any) -> int:
        return self.current + 1

    def has_more(self, page: Any) -> bool:
        total = self._total_pages(page) if self._total_pages else None
        # ``current`` is already the next page's number when this is asked
        return super().has_more(page) and (total is None or self.current <= total)


class SinceIdPaginator(Paginator[int | None]):
    """Cursor paging by the last id read (retailCRM history ``filter[sinceId]``).

    The next token is the answer's largest id, so :attr:`current` is the cursor to persist once a
    page is applied; it must grow, or the server is handing back what we had.

    Args:
        record_id: a record's id.
        limit: records per page; a shorter page is the last.
        is_last: whether an answer says it is the last page (retailCRM: one page left).
    """

    what = "sinceId"

    def __init__(
        self,
        start: int | None,
        *,
        system: str,
        endpoint: str,
        rows: Rows = page_as_rows,
        record_id: Callable[[Any], int] = lambda record: int(record["id"]),
        limit: int | None = None,
        is_last: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(start, system=system, endpoint=endpoint, rows=rows, limit=limit)
        self._record_id = record_id
        self._is_last = is_last

    def next_token(self, page: Any) -> int | None:
        records = self.rows(page)
        return max(self._record_id(r) for r in records) if records else None

    def advances(self, token: int | None) -> bool:
        return token is not None and (self.current is None or token > self.current)

    def loop_error(self, what: str) -> PagingLoopError:
        return PagingLoopError(
            self.system, self.endpoint, None, f"history did not advance past sinceId={self.current} ({what})"
        )

    def has_more(self, page: Any) -> bool:
        return super().has_more(page) and not (self._is_last and self._is_last(page))


class NextLinkPaginator(Paginator[str | None]):
    """Next-link paging (keyCRM ``links.next`` / ``next_page_url``, MoySklad ``meta.nextHref``).

    Args:
        next_link: the link to the next page in an answer, None or empty on the last page.
        start: the first page's link (None: the caller's own first request).
    """

    what = "next link"

    def __init__(
        self,
        *,
        next_link: Callable[[Any], str | None],
        start: str | None = None,
        system: str,
        endpoint: str,
        rows: Rows = page_as_rows,
        row_key: Key = row_id,
    ) -> None:
        super().__init__(start, system=system, endpoint=endpoint, rows=rows, row_key=row_key)
        self._next_link = next_link

    def next_token(self, page: Any) -> str | None:
        return self._next_link(page) or None

    def has_more(self, page: Any) -> bool:
        return True  # the next link alone says whether there is more, and next_token read it


async def follow(paginator: Paginator[TokenT], fetch: Callable[[TokenT], Awaitable[P]]) -> AsyncIterator[P]:
    """Fetch the paginator's pages one after the other and yield each answer.

    Raises:
        PagingLoopError: from the loop guard, before a repeated page is yielded.
    """
    while not paginator.finished:
        page = await fetch(paginator.current)
        paginator.advance(page)
        yield page
