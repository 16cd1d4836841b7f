"""The Horoshop sandbox: an emulator of the shop's API with its real rules, by concern.

* :mod:`.app` — :class:`HoroshopSandbox`: the front door's hooks (sign-in and tokens, the hourly
  quota in both of its reported forms, HTML pages when the shop is down, envelopes under HTTP 200);
* :mod:`.state` — what the shop holds; :mod:`.routes` and the handlers by concern:
  :mod:`.orders`, :mod:`.catalog`;
* :mod:`.seed` — a catalog, custom statuses and storefront orders; :mod:`.kit` — the account the
  conformance suite runs against.
"""

from __future__ import annotations

from connectors.horoshop.sandbox.app import HoroshopSandbox

__all__ = ["HoroshopSandbox"]
