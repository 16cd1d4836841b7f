"""MoySklad's stock webhooks as the hub's receiver needs them: what to subscribe, what a delivery says.

Two kinds of subscription carry stock changes ([WH], [WHS] in ``shared/apis/moysklad.md`` §6):

* one ``webhookstock`` (``reportType: bystore``, ``stockType: stock``, the only type it takes):
  every 1–5 minutes, when stock changed, a ``reportUrl`` of ``report/stock/bystore/current`` with
  ``changedSince`` in Moscow time;
* entity webhooks of the documents that move stock (shipments, receipts, transfers, write-offs,
  stock entries, customer returns and returns to suppliers: created, edited, deleted) and of
  customer orders created, edited and deleted (their reserve): within seconds, but only a reference.

A delivery is a nudge, not data: the stock cycle reads the report itself from its own cursor, so
the notice keeps only the delivery's ``requestId`` (MoySklad repeats it on its three immediate
retries: the receiver's dedupe key) and the moment to read from.

MoySklad allows at most 5 webhooks per (entityType, action) with different URLs for a user and 1
for a solution (error 30007). Subscribing removes the hub's own stale ones first (a new token or
host), so a solution's single slot is free again, and says plainly which kinds the account has no
room for instead of failing at the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.http import RequestValidationError
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.settings import MoySkladSettings
from connectors.moysklad.wire.moscow_time import parse_moscow
from hub.capabilities import StockNotice

#: documents whose every change moves stock (a customer return brings goods back, a return to the
#: supplier takes them out)
STOCK_DOCUMENTS = ("demand", "supply", "move", "loss", "enter", "salesreturn", "purchasereturn")
#: (entityType, action) of every entity webhook the hub subscribes; an order created, edited or
#: deleted sets, moves or frees its reserve
ENTITY_EVENTS: tuple[tuple[str, str], ...] = tuple(
    (doc, action) for doc in (*STOCK_DOCUMENTS, "customerorder") for action in ("CREATE", "UPDATE", "DELETE")
)
STOCK_ENTITIES = frozenset(entity for entity, _ in ENTITY_EVENTS)
ACTIONS = frozenset(action for _, action in ENTITY_EVENTS)
#: MoySklad's code for "more than 5 webhooks of the same kind" (1 for a solution)
ACCOUNT_FULL = "[30007]"
#: the longest webhook URL MoySklad keeps
MAX_URL = 255
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_REPORT_PATH = re.compile(r"/report/stock/(all|bystore)/current$")


@dataclass(frozen=True)
class Subscription:
    """One subscription the hub wants: its kind (``webhook`` or ``webhookstock``) and identifying fields."""

    kind: str
    fields: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        return " ".join(value for _, value in self.fields) if self.kind == "webhook" else "stock report bystore"

    def matches(self, hook: Mapping[str, Any]) -> bool:
        return all(hook.get(key) == value for key, value in self.fields)


WANTED: tuple[Subscription, ...] = (
    Subscription("webhookstock", (("reportType", "bystore"), ("stockType", "stock"))),
    *(Subscription("webhook", (("entityType", entity), ("action", action))) for entity, action in ENTITY_EVENTS),
)


class WebhookLimitError(RequestValidationError):
    """The account has no room for some subscriptions; ``done`` lists what was done all the same."""

    def __init__(self, done: Sequence[str], refused: Sequence[str]) -> None:
        super().__init__(
            "moysklad",
            "/entity/webhook",
            412,
            f"no room for {', '.join(refused)}: MoySklad allows 5 webhooks per entity and action for a user "
            "and 1 for a solution (error 30007); remove an unused one in MoySklad's webhook settings, then "
            "register again",
        )
        self.done = list(done)
        self.refused = list(refused)


class MoySkladStockEvents:
    """Implements ``StockEvents`` for one account (parsing needs no client; subscribing does)."""

    def __init__(self, client: MoySkladClient | None) -> None:
        self._client = client  # None when only deliveries are parsed (the receiver)

    @classmethod
    def over(cls, client: MoySkladClient | None, settings: MoySkladSettings) -> MoySkladStockEvents:
        return cls(client)

    @property
    def client(self) -> MoySkladClient:
        if self._client is None:
            raise RuntimeError("this MoySklad capability was opened without a client: it can only parse")
        return self._client

    # -- deliveries ------------------------------------------------------------------------------
    def parse_notice(self, body: bytes, query: Mapping[str, str]) -> StockNotice:
        delivery = query.get("requestId") or ""
        if not _REQUEST_ID.fullmatch(delivery):
            raise ValueError(
                "no requestId in the query (MoySklad posts to <url>?requestId=<uuid>)"
                if not delivery
                else f"requestId {delivery[:80]!r} is not an id"
            )
        try:
            data = json.loads(body)
        except ValueError:  # UnicodeDecodeError included
            raise ValueError("the body is not JSON") from None
        except RecursionError:  # json gives up on a few KB of [[[[…: a hostile body, not a notice
            raise ValueError("the body is nested too deeply to be a notice") from None
        if not isinstance(data, dict):
            raise ValueError("the body is not a JSON object")
        if "reportUrl" in data:
            return StockNotice(delivery, "stock", _changed_since(data["reportUrl"]))
        if "events" in data:
            audit = data.get("auditContext")
            moment = audit.get("moment") if isinstance(audit, dict) else None  # when the change was made
            return StockNotice(
                delivery, _event_kinds(data["events"]), parse_moscow(moment) if isinstance(moment, str) else None
            )
        raise ValueError("neither a stock notice (reportUrl) nor entity events (events)")

    # -- subscriptions ---------------------------------------------------------------------------
    async def subscribe(self, url: str, *, ours: str) -> list[str]:
        _check_target(url, ours)
        hooks = {kind: await self.client.list_webhooks(kind) for kind in ("webhookstock", "webhook")}
        done: list[str] = []
        for kind, listed in hooks.items():
            # only kinds the stock receiver subscribes: the hub's other receivers share the prefix
            for hook in [h for h in listed if _ours_elsewhere(h, url, ours) and _stock_kind(kind, h)]:
                # first, so that a solution's single slot per kind is free for the new URL
                await self.client.delete_webhook(kind, str(hook["id"]))
                listed.remove(hook)
                done.append(f"removed {_label(kind, hook)}: it pointed to another URL of ours")
        kept: list[str] = []
        refused: list[str] = []
        for want in WANTED:
            mine = next((h for h in hooks[want.kind] if want.matches(h) and h.get("url") == url), None)
            if mine is not None and mine.get("enabled") is False:
                await self.client.enable_webhook(want.kind, str(mine["id"]))
                done.append(f"enabled {want.label}: MoySklad had switched it off")
            elif mine is not None:
                kept.append(want.label)
            else:
                try:
                    await self.client.create_webhook(want.kind, {**dict(want.fields), "url": url})
                except RequestValidationError as exc:
                    if ACCOUNT_FULL not in exc.message:
                        raise
                    refused.append(want.label)
                    continue
                done.append(f"created {want.label}")
        if kept:
            done.append(f"kept {len(kept)} already in place")
        if refused:
            raise WebhookLimitError(done, refused)
        return done

    async def subscriptions(self) -> list[dict[str, str]]:
        hooks = {kind: await self.client.list_webhooks(kind) for kind in ("webhookstock", "webhook")}
        return [
            {
                "kind": want.label,
                "url": str(hook.get("url", "")),
                "state": "disabled" if hook.get("enabled") is False else "enabled",
            }
            for want in WANTED
            for hook in hooks[want.kind]
            if want.matches(hook)
        ]


def _changed_since(report_url: Any) -> datetime | None:
    if not isinstance(report_url, str):
        raise ValueError("reportUrl is not a string")
    parts = urlsplit(report_url)
    if not _REPORT_PATH.search(parts.path):
        raise ValueError(f"reportUrl is not a current stock report: {parts.path[:80]!r}")
    since = parse_qs(parts.query).get("changedSince")
    return parse_moscow(since[0]) if since else None  # none: read it all


def _event_kinds(events: Any) -> str:
    if not isinstance(events, list) or not events:
        raise ValueError("events is not a non-empty list")
    kinds: set[str] = set()
    for event in events:
        meta = event.get("meta") if isinstance(event, dict) else None
        entity = meta.get("type") if isinstance(meta, dict) else None
        if not isinstance(entity, str) or not isinstance(event.get("action"), str):
            raise ValueError("an event has no meta.type or action")
        if entity not in STOCK_ENTITIES or event["action"] not in ACTIONS:
            raise ValueError(
                f"{entity[:40]} {str(event['action'])[:10]} does not move stock: "
                "a webhook of another kind points at the stock receiver"
            )
        kinds.add(entity)
    return ",".join(sorted(kinds))


def _check_target(url: str, ours: str) -> None:
    for value, what in ((url, "url"), (ours, "ours")):
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError(f"{what} must be an absolute http(s) URL")
    if not url.startswith(ours):
        raise ValueError("url must start with ours (the hub's own prefix), or stale ones could never be told")
    if len(url) > MAX_URL:
        raise ValueError(f"the receiver's URL is {len(url)} characters; MoySklad keeps at most {MAX_URL}")


def _ours_elsewhere(hook: Mapping[str, Any], url: str, ours: str) -> bool:
    target = str(hook.get("url", ""))
    return target.startswith(ours) and target != url


def _stock_kind(kind: str, hook: Mapping[str, Any]) -> bool:
    return kind == "webhookstock" or (hook.get("entityType"), hook.get("action")) in ENTITY_EVENTS


def _label(kind: str, hook: Mapping[str, Any]) -> str:
    if kind == "webhookstock":
        return f"stock report {hook.get('reportType')}"
    return f"{hook.get('entityType')} {hook.get('action')}"
