"""The exchanges Sklad Bridge deploys: one row each, read by ``skladbridge deploy``, ``serve`` and
``--write-prefect-yaml`` alike, so that the three never disagree.

An exchange is a Prefect flow run per integration on the integration's period
(``integrations.<name>.periods.<period key>``, :mod:`hub.periods`); its deployment is
``<exchange>/<integration>``. Adding one is one :class:`Exchange` line in :data:`EXCHANGES`; its period key
and default exist already. Nothing here imports Prefect: the flows are named by entrypoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.periods import DEFAULTS, FLOORS


@dataclass(frozen=True)
class Exchange:
    """One exchange: its name (the Prefect flow's), flow, period key and fixed parameters."""

    name: str
    #: ``path/to/module.py:flow`` from the repository root (what prefect.yaml names)
    entrypoint: str
    description: str
    #: key of :class:`hub.periods.Periods`; None: not per integration (the healthcheck, on demand)
    period: str | None
    #: parameters every deployment of it passes besides ``integration`` and ``config_path``
    fixed: Mapping[str, Any] = field(default_factory=dict)
    #: streams (``flows:`` keys) an integration must have for it to be deployed
    needs: tuple[str, ...] = ()

    @property
    def module_entrypoint(self) -> str:
        """``package.module.flow``: importable wherever the package is installed (workers, images)."""
        path, name = self.entrypoint.split(":")
        return f"{path.removesuffix('.py').replace('/', '.')}.{name}"

    @property
    def default_period(self) -> str | None:
        return DEFAULTS[self.period] if self.period else None

    def parameters(self, integration: str | None, config_path: str | None) -> dict[str, Any]:
        """The deployment's parameters (an unset integration stays a required run parameter)."""
        named = {"integration": integration} if self.period and integration else {}
        return {**named, **({"config_path": config_path} if config_path else {}), **self.fixed}

    def load(self) -> Any:
        """The Prefect flow (imports Prefect and the flow's module)."""
        import importlib

        module, name = self.module_entrypoint.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)


EXCHANGES: tuple[Exchange, ...] = (
    Exchange(
        "full-import",
        "flows/full_import.py:full_import",
        "Full primary import of the catalog, MoySklad -> hub -> retailCRM",
        "full_import",
        needs=("catalog",),
    ),
    Exchange(
        "catalog-feed",
        "flows/catalog_feed.py:catalog_feed",
        "Catalog feed refreshed: the catalog read afresh, the feed rewritten if it changed, "
        "stock and prices that differ sent",
        "catalog_feed",
        needs=("catalog",),
    ),
    Exchange(
        "stock-sync",
        "flows/stock_sync.py:stock_sync",
        "Stock changed since the last cycle, MoySklad -> retailCRM (only what differs is sent)",
        "stock_sync",
        needs=("stock",),
    ),
    Exchange(
        "stock-reconcile",
        "flows/stock_reconcile.py:stock_reconcile",
        "Full stock reconciliation: all stock read, what drifted is sent",
        "stock_reconcile",
        {"full": True, "trigger": "reconcile"},
        needs=("stock",),
    ),
    Exchange(
        "order-upload",
        "flows/order_upload.py:order_upload",
        "New and changed orders, channel -> ERP, exactly once (unresolvable ones parked)",
        "order_upload",
        needs=("orders",),
    ),
    Exchange(
        "order-status-sync",
        "flows/order_status_sync.py:order_status_sync",
        "Order states changed in the ERP back to the channel as the mapped statuses",
        "order_status_sync",
        needs=("statuses",),
    ),
    Exchange(
        "order-documents",
        "flows/order_documents.py:order_documents",
        "Shipments, returns and payments of the orders in the ERP, each exactly once",
        "order_documents",
        needs=("orders",),
    ),
    Exchange(
        "two-way-sync",
        "flows/two_way_sync.py:two_way_sync",
        "Customers both ways, order changes and retail sales of the ERP back to the channel",
        "two_way_sync",
        needs=("orders",),
    ),
    Exchange(
        "archive-backfill",
        "flows/archive_backfill.py:archive_backfill",
        "Past orders of a period, channel -> ERP (run with dates; the schedule goes on with unfinished ones)",
        "archive_backfill",
        needs=("orders",),
    ),
    Exchange(
        "healthcheck",
        "flows/healthcheck.py:healthcheck",
        "Loads the config, opens (and migrates) the hub store, calls every system once, reports",
        None,
    ),
)

assert all(e.period is None or e.period in FLOORS for e in EXCHANGES), "an exchange's period key is not in hub.periods"


def exchange(name: str) -> Exchange:
    return next(e for e in EXCHANGES if e.name == name)
