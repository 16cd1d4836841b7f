"""Horoshop's published and field-reported limits (crm.md D, D.1), shared by client and sandbox."""

from __future__ import annotations

#: a token lives 600 s (hmcp ``TOKEN_TTL_MS = 600_000``; a second third-party source agrees) [3p ×2]
TOKEN_TTL_SECONDS = 600.0
#: the client renews this long before the token expires (hmcp refreshes ~30 s early)
TOKEN_RENEW_BEFORE = 30.0
#: ``catalog/export`` rows per page: default and maximum; more is capped silently [doc, D.1]
CATALOG_PAGE = 500
#: ``orders/get`` rows per page the hub asks for; the API's maximum is not published [inferred]
ORDERS_PAGE = 100
#: the hourly window the shop counts requests over (its size per shop is not published) [D.1]
QUOTA_WINDOW_SECONDS = 3600.0
#: requests in flight at once per shop (keeps a small shop's PHP workers free) [inferred]
MAX_IN_FLIGHT = 2
#: built-in order statuses (orders/get doc): 1 new, 2 in processing, 3 delivered, 4 not delivered
#: (cancelled: goods stay deducted, the order becomes read-only, D.1), 6 shipping
BUILTIN_STATUSES = {1: "Новий", 2: "В обробці", 3: "Доставлено", 4: "Не доставлено", 6: "Відправлено"}
READ_ONLY_STATUS = 4
