"""The *Journal* screen: what happened, newest first, filtered by integration, level (and above) and
time, paged by id. With ``?rows=1`` only the rows are sent (the page's short poll)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from deployments.console.paging import PAGE, before_id, choice, next_link
from deployments.console.shell import Console, Refused
from hub.store.journal import LEVELS

#: the "since" choices: label -> how far back
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def routes(console: Console) -> list[BaseRoute]:
    def listing(request: Request) -> Response:
        console.user(request)
        params = request.query_params
        filters = {
            "integration": choice(params, "integration", list(console.config.integrations)),
            "level": choice(params, "level", list(LEVELS)),
            "since": choice(params, "since", list(SINCE)),
        }
        since = datetime.now(UTC) - SINCE[filters["since"]] if filters["since"] else None
        try:
            entries = console.store.journal.list(
                integration=filters["integration"],
                level=filters["level"],
                limit=PAGE,
                before=before_id(params),
                since=since,
            )
        except ValueError as exc:
            raise Refused(400, str(exc)) from None
        more = next_link(filters, entries[-1].id if entries else None, len(entries) == PAGE)
        return console.page(
            request,
            "journal_rows.html" if params.get("rows") else "journal.html",
            entries=entries,
            filters=filters,
            levels=list(LEVELS),
            since_choices=list(SINCE),
            more=more,
            live=not params.get("before"),
        )

    return [Route("/journal", listing, methods=["GET"], name="journal")]
