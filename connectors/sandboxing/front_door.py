"""The front door every emulated API shares; a system supplies only its rules, as small hooks.

Each request to the API passes, in this order::

    screen → authenticate → rate gate → (admitted) slow → injected 500 | timeout → route
           → drop the answer after a committed write | cut a page short → render      … and is logged.

``gate_before_auth`` swaps authentication and the gate, for APIs whose proxy meters requests
before the application sees the key (retailCRM's nginx). Everything a system differs in is a hook:
how a credential is read and checked, how the gate answers, what its errors and an injected 500
look like, the route table, how a reply is encoded.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.sandboxing.faults import DroppedAfterWrite, FaultPlan, NoAnswer, sleep_if_slow
from connectors.sandboxing.rules import ApiRefusal, Reply, WindowQuota
from connectors.sandboxing.serving import LoggedRequest, RequestLog


@dataclass
class Visit:
    """One request on its way through the front door; the hooks fill in who sent it and its cost.

    Attributes:
        path: under the API prefix, ``/``-led, without a trailing slash (what routes match).
        secret: the credential as presented, for the hooks only (never logged).
        credential: who called, as the log names them (a label or digest, never the secret).
        kind: the system's class of that credential (MoySklad: solution token or user).
        weight: what the request cost the rate budget.
        headers: headers every answer to an admitted request carries (rate-limit state).
        status: the status answered (0: dropped).
    """

    request: Request
    path: str
    secret: str = ""
    credential: str = "-"
    kind: str = ""
    weight: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 500


class SandboxFrontDoor:
    """The front door of an emulated API; a system subclasses it and overrides the hooks it needs.

    Hooks (defaults in brackets): :meth:`screen` protocol checks before anything [none];
    :meth:`authenticate` [everyone is welcome]; :meth:`admit` the rate gate [``quota`` per
    credential, 429]; :meth:`leave` [nothing]; :meth:`server_fault` the injected 500 [``{"error"}``];
    :meth:`route` the route table [required]; :meth:`render` a reply's encoding [JSON];
    :meth:`log_path` [the path under the prefix]. Any hook or handler may raise
    :class:`ApiRefusal`, rendered without the admitted request's rate headers.

    Attributes:
        app: the Starlette app: ``before`` routes, the API under ``api_prefix``, ``after`` routes.
        faults: what to inject next; ``log``: every request answered.
        quota: the default gate's budget (None: only injected bursts are refused).
    """

    #: the proxy refuses over-limit requests before the application checks the key (retailCRM's nginx)
    gate_before_auth: ClassVar[bool] = False
    #: paths served without a credential (where a login yields the API key: Horoshop, Agora)
    open_paths: ClassVar[frozenset[str]] = frozenset()
    #: query parameters that carry a credential: the log keeps their name, not their value
    secret_params: ClassVar[tuple[str, ...]] = ()
    #: keys of a collection page's rows (a ``partial_pages`` fault cuts the first one present)
    page_keys: ClassVar[tuple[str, ...]] = ("rows", "data")
    methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "PUT", "DELETE")
    media_type: ClassVar[str] = "application/json"

    def __init__(self, api_prefix: str, *, before: Sequence[BaseRoute] = (), after: Sequence[BaseRoute] = ()) -> None:
        self.faults = FaultPlan()
        self.log = RequestLog()
        self.quota: WindowQuota | None = None
        api = Route(api_prefix.rstrip("/") + "/{path:path}", self.handle, methods=list(self.methods))
        self.app = Starlette(routes=[*before, api, *after])

    # -- hooks -----------------------------------------------------------------------------------
    async def screen(self, visit: Visit) -> Response | None:
        """Checks made before authentication (an encoding the API insists on, a missing account)."""
        return None

    async def authenticate(self, visit: Visit) -> Response | None:
        """Read and check the credential: set ``visit.credential``; refuse by returning or raising."""
        return None

    def admit(self, visit: Visit, forced: bool) -> Response | None:
        """Admit the request (charge it, set ``visit.weight``/``headers``) or refuse it.

        ``forced`` is an injected rate-limit burst: refuse whatever the budget says.
        """
        wait = None if forced or self.quota is None else self.quota.take(visit.credential)
        if forced or wait is not None:
            raise ApiRefusal(429, "Too Many Requests", {"Retry-After": str(max(1, math.ceil(wait or 1)))})
        visit.weight = 1
        return None

    def leave(self, visit: Visit) -> None:
        """An admitted request is finished (free its in-flight place)."""

    def server_fault(self) -> ApiRefusal:
        """What an injected server error answers."""
        return ApiRefusal(500, "Internal server error")

    async def route(self, visit: Visit) -> Reply:
        """Answer an admitted request (usually: look it up in a :class:`RouteTable`)."""
        raise NotImplementedError

    def render(self, visit: Visit, reply: Reply) -> Response:
        """Encode a reply the way the API does (default: JSON; no body when the payload is None)."""
        if reply.payload is None:
            return Response(status_code=reply.status, headers=dict(reply.headers))
        return JSONResponse(reply.payload, reply.status, headers=dict(reply.headers))

    def log_path(self, visit: Visit) -> str:
        """The path the log records."""
        return visit.path

    # -- the door itself -------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        """The Starlette endpoint of the API: every request passes here and is logged."""
        visit = Visit(request, "/" + request.path_params["path"].strip("/"))
        try:
            response = await self._pass(visit)
            visit.status = 0 if isinstance(response, DroppedAfterWrite) else response.status_code
            return response
        finally:
            self.record(request, self.log_path(visit), visit.status, visit.credential, visit.weight)

    async def _pass(self, visit: Visit) -> Response:
        admitted = False
        try:
            refusal = await self.screen(visit)
            if refusal is None and self.gate_before_auth:
                refusal = self.admit(visit, self.faults.take_rate_limit())
                admitted = refusal is None
            if refusal is None and visit.path not in self.open_paths:
                refusal = await self.authenticate(visit)
            if refusal is None and not self.gate_before_auth:
                refusal = self.admit(visit, self.faults.take_rate_limit())
                admitted = refusal is None
            return refusal or await self._serve(visit)
        except ApiRefusal as exc:
            return self.render(visit, Reply(exc.status, exc.payload(), headers=exc.headers))
        finally:
            if admitted:
                self.leave(visit)

    async def _serve(self, visit: Visit) -> Response:
        await sleep_if_slow(self.faults)
        if self.faults.take_server_error():
            fault = self.server_fault()
            return self.render(visit, Reply(fault.status, fault.payload(), headers=visit.headers))
        if self.faults.take_timeout():  # hangs, then the connection drops: not processed, logged as status 0
            await asyncio.sleep(self.faults.timeout_seconds)
            return NoAnswer(self.media_type)
        reply = await self.route(visit)
        if reply.wrote and reply.status < 300 and self.faults.take_drop_after_write():
            return DroppedAfterWrite(self.media_type)
        if self.faults.take_lost_answer():
            return DroppedAfterWrite(self.media_type)
        return self.render(
            visit, replace(reply, payload=self._cut(visit, reply.payload), headers={**visit.headers, **reply.headers})
        )

    def _cut(self, visit: Visit, payload: Any) -> Any:
        """A page losing the second half of its rows, when a ``partial_pages`` fault is due."""
        key = next((k for k in self.page_keys if isinstance(payload, dict) and isinstance(payload.get(k), list)), None)
        if key is None or len(payload[key]) < 2 or not self.faults.take_partial_page(visit.path):
            return payload
        return {**payload, key: payload[key][: len(payload[key]) // 2]}

    def record(self, request: Request, path: str, status: int, credential: str, weight: int = 0) -> None:
        """Log one request (credential-carrying query parameters masked)."""
        query = request.url.query
        for name in self.secret_params:
            query = re.sub(rf"(?i)((?:^|&){re.escape(name)}=)[^&]*", r"\1***", query)
        self.log.add(LoggedRequest(time.time(), request.method, path, query, status, credential, weight))
