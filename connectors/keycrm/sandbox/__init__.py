"""The keyCRM sandbox: an emulator of OpenAPI v1 with its real rules, by concern.

* :mod:`.app` — :class:`KeyCRMSandbox`: the front door's hooks (bearer key, 60 a minute, Laravel
  errors), the admin paths and a manager's hands (orders placed and moved, stock edited);
* :mod:`.state` — the account's data; :mod:`.wire` — error bodies and calls; :mod:`.pages` — paging;
* :mod:`.routes` and the handlers by concern: :mod:`.orders`, :mod:`.offers`; :mod:`.webhooks` —
  the order trigger and the stock webhook;
* :mod:`.seed` — generated data; :mod:`.kit` — the account the conformance suite runs against.
"""

from __future__ import annotations

from connectors.keycrm.sandbox.app import KeyCRMSandbox

__all__ = ["KeyCRMSandbox"]
