"""MoySklad (МойСклад) JSON API 1.2 connector.

* :mod:`.client` — :class:`MoySkladClient`: auth, gzip, the weighted 45-unit/3 s budget, concurrent
  paging, catalog/stock reads, orders, documents and webhooks;
* :mod:`.convert` — wire JSON ⇄ canonical frames (:mod:`hub.model`) and payloads;
* :mod:`.limits` — the published limits and the dated weight table (shared with the sandbox);
* :mod:`.sandbox` — :class:`MoySkladSandbox`, an ASGI emulator with the real rules, and
  :func:`.sandbox_generator.seed_catalog` to seed it.

Imports are lazy so that reading the limits never pulls in Starlette or pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MoySkladClient", "MoySkladSandbox", "seed_catalog"]


def __getattr__(name: str) -> Any:
    if name == "MoySkladClient":
        from connectors.moysklad.client import MoySkladClient

        return MoySkladClient
    if name == "MoySkladSandbox":
        from connectors.moysklad.sandbox import MoySkladSandbox

        return MoySkladSandbox
    if name == "seed_catalog":
        from connectors.moysklad.sandbox_generator import seed_catalog

        return seed_catalog
    raise AttributeError(name)
