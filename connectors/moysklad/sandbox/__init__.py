"""The MoySklad sandbox: an emulator of JSON API 1.2 with its real rules, by concern.

* :mod:`.app` — :class:`MoySkladSandbox`: the front door's hooks (auth, the weighted rate gate, faults,
  the request log) and the route table;
* :mod:`.state` — every object the account holds; :mod:`.stock` — the stock ledger;
* :mod:`.routes`, :mod:`.query`, :mod:`.documents`, :mod:`.bundles` — collections, filters and paging,
  document writes with their stock rules, bundle components;
* :mod:`.rate` — the rate gate; :mod:`.webhooks` — webhooks sent as MoySklad sends them;
* :mod:`.generator` — a realistic catalog of any size; :mod:`.kit` — the account the conformance
  suite runs against.
"""

from __future__ import annotations

from connectors.moysklad.sandbox.app import API_PREFIX, MoySkladSandbox, serve
from connectors.moysklad.sandbox.generator import seed_catalog

__all__ = ["API_PREFIX", "MoySkladSandbox", "seed_catalog", "serve"]
