"""Stock reconciliation: a stock-sync cycle that reads all stock, on its own (daily) schedule.

It is :func:`flows.stock_sync.stock_sync` itself, named ``stock-reconcile`` so that Prefect lists it as
an exchange of its own (``stock-reconcile/<integration>``, its runs ``stock-reconcile/<integration>``);
its deployments pass ``full=True``. It holds the same ``inventories`` run lock as every stock cycle,
and its whole read resets the clock of ``options.stock.full_every`` (see :mod:`hub.periods`).
"""

from __future__ import annotations

from flows.stock_sync import stock_sync

stock_reconcile = stock_sync.with_options(name="stock-reconcile", flow_run_name="stock-reconcile/{integration}")
