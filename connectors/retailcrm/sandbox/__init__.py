"""The retailCRM sandbox: an emulator of API v5 with its real rules, by concern.

* :mod:`.app` — :class:`RetailCRMSandbox`: the front door's hooks (keys and sites, the nginx-style
  rate gate, faults, the request log) and the admin paths;
* :mod:`.state` — the account's data; :mod:`.wire` — envelopes, errors and form bodies as the API
  answers them;
* :mod:`.routes` and the handlers by concern: :mod:`.catalog`, :mod:`.orders`, :mod:`.customers`,
  :mod:`.history`;
* :mod:`.seed` — generated catalogs, customers and orders; :mod:`.kit` — the account the conformance
  suite runs against.
"""

from __future__ import annotations

from connectors.retailcrm.sandbox.app import RetailCRMSandbox

__all__ = ["RetailCRMSandbox"]
