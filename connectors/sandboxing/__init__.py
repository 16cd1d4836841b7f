"""What every sandbox (API emulator) shares: the front door, fault injection, the request log, serving.

A sandbox is an ASGI app. Tests and the demo run it in-process through ``httpx.ASGITransport``
or on a real loopback socket through :class:`LoopbackServer` (uvicorn in a background thread).
A new emulator subclasses :class:`SandboxFrontDoor` and writes only its API's rules and state:

* ``front_door`` — :class:`SandboxFrontDoor` (auth → rate gate → faults → route → reply, logged)
  and :class:`Visit`, one request on its way through it;
* ``rules`` — :class:`ApiRefusal` (an error answer), :class:`Reply`, :class:`RouteTable`,
  :class:`WindowQuota`, :func:`bearer_token`, :func:`credential_digest`;
* ``faults`` — :class:`FaultPlan` (faults as data), :class:`DroppedAfterWrite`;
* ``serving`` — :class:`RequestLog`, :class:`LoopbackServer`.
"""

from connectors.sandboxing.faults import DroppedAfterWrite, DroppedResponse, FaultPlan, NoAnswer, sleep_if_slow
from connectors.sandboxing.front_door import SandboxFrontDoor, Visit
from connectors.sandboxing.rules import (
    ApiRefusal,
    ApiRoute,
    Reply,
    RouteTable,
    WindowQuota,
    bearer_token,
    credential_digest,
)
from connectors.sandboxing.serving import LoggedRequest, LoopbackServer, RequestLog, free_port

__all__ = [
    "ApiRefusal",
    "ApiRoute",
    "DroppedAfterWrite",
    "DroppedResponse",
    "FaultPlan",
    "LoggedRequest",
    "LoopbackServer",
    "NoAnswer",
    "Reply",
    "RequestLog",
    "RouteTable",
    "SandboxFrontDoor",
    "Visit",
    "WindowQuota",
    "bearer_token",
    "credential_digest",
    "free_port",
    "sleep_if_slow",
]
