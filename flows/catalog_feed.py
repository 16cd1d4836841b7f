"""Catalog feed refresh: the full import on the seed modules' three-hourly schedule.

The seed modules rebuild the catalog feed every 3 hours. Here that is :func:`flows.full_import.full_import`
itself, named ``catalog-feed`` so that Prefect lists it as an exchange of its own
(``catalog-feed/<integration>``, scheduled by ``periods.catalog_feed``) while ``full-import`` stays on
demand. A run reads the catalog afresh, rewrites the feed only when its content changed, and sends
only the stock and prices that differ from what was last sent: on an unchanged catalog it writes
nothing to the channel. It holds the full import's run locks, so the two never overlap.
"""

from __future__ import annotations

from flows.full_import import full_import

catalog_feed = full_import.with_options(name="catalog-feed", flow_run_name="catalog-feed/{integration}")
