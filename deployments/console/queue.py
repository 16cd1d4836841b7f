"""The *Queue* screen: exchange queue items filtered by integration, kind and status, newest first,
each with its payload's summary, attempts, last error and the reason a manager can act on; a retry
of one item, and of every dead item of a kind. With ``?rows=1`` only the table's rows are sent (the
page's short poll swaps them in: the first page stays live without a reload).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from deployments.console.paging import PAGE, before_id, choice, next_link
from deployments.console.shell import Console, Refused
from hub.store import QueueItem, StoreError
from hub.store.tables import QUEUE_STATUSES

#: characters of a payload summary
SUMMARY_CHARS = 160


def summary(payload: dict[str, Any]) -> str:
    """The payload's plain values (``order_id=1001 hash=…``), not its nested draft."""
    parts = [f"{k}={v}" for k, v in payload.items() if isinstance(v, str | int | float) and k != "hash"]
    text = " ".join(parts) or ", ".join(sorted(payload))
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def reason(item: QueueItem) -> str | None:
    """What a manager can do about the item: a parked order's reasons, else the last error."""
    parked = item.payload.get("parked")
    if isinstance(parked, list) and parked:
        return "; ".join(str(p) for p in parked)
    return item.last_error


def routes(console: Console) -> list[BaseRoute]:
    def listing(request: Request) -> Response:
        console.user(request)
        params = request.query_params
        filters = {
            "integration": choice(params, "integration", list(console.config.integrations)),
            "kind": (params.get("kind") or None),
            "status": choice(params, "status", QUEUE_STATUSES),
        }
        if filters["kind"] is not None and len(filters["kind"]) > 64:
            raise Refused(400, "kind is at most 64 characters")
        items = console.store.queue.list(**filters, limit=PAGE, before=before_id(params))  # type: ignore[arg-type]
        rows = [{"item": i, "summary": summary(i.payload), "reason": reason(i)} for i in items]
        more = next_link(filters, items[-1].id if items else None, len(items) == PAGE)
        template = "queue_rows.html" if params.get("rows") else "queue.html"
        return console.page(
            request,
            template,
            rows=rows,
            filters=filters,
            statuses=QUEUE_STATUSES,
            more=more,
            counts=console.store.queue.counts(filters["integration"]) if not params.get("rows") else {},
            live=not params.get("before"),
            notice=params.get("notice"),
        )

    def back(request: Request, notice: str, form: Any) -> Response:
        from urllib.parse import urlencode

        kept = {k: form.get(k) for k in ("integration", "kind", "status") if form.get(k)}
        return RedirectResponse(f"{request.url_for('queue')}?{urlencode({**kept, 'notice': notice})}", 303)

    async def retry(request: Request) -> Response:
        session, form = await console.form(request)
        raw = request.path_params["item_id"]
        try:
            item = await run_in_threadpool(console.store.queue.retry, int(raw))
        except StoreError as exc:
            raise Refused(409, str(exc)) from None
        await run_in_threadpool(
            console.store.journal.write,
            item.integration,
            "info",
            "console.retry",
            f"{session.user} retried queue item {item.id} ({item.kind}) in the console",
            {"item_id": item.id},
        )
        return back(request, f"item {item.id} is due again", form)

    async def retry_dead(request: Request) -> Response:
        session, form = await console.form(request)
        integration = choice(form, "integration", list(console.config.integrations))  # type: ignore[arg-type]
        kind = str(form.get("retry_kind") or "")
        if not integration or not kind:
            raise Refused(400, "choose the integration and the kind whose dead items to retry")
        count = await run_in_threadpool(console.store.queue.retry_dead, integration, kind)
        await run_in_threadpool(
            console.store.journal.write,
            integration,
            "info",
            "console.retry",
            f"{session.user} retried {count} dead {kind} item(s) in the console",
            {"kind": kind, "count": count},
        )
        return back(request, f"{count} dead {kind} item(s) of {integration} are due again", form)

    return [
        Route("/queue", listing, methods=["GET"], name="queue"),
        Route("/queue/{item_id:int}/retry", retry, methods=["POST"], name="queue_retry"),
        Route("/queue/retry-dead", retry_dead, methods=["POST"], name="queue_retry_dead"),
    ]
