"""The documents exchange of one integration: what it runs on and what it keeps in the hub.

It rides on the orders edge (``orders: {from: shop, to: erp}``): the channel's orders, their status
history and payments are what the order upload staged; the ERP orders are the ones it linked. The
ERP side must keep documents (:class:`~hub.capabilities.OrderDocuments`); cost prices go back only
to a channel that takes them (:class:`~hub.capabilities.CostPriceSink`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.capabilities import CostPriceSink, OrderDocuments, OrderSource, PaymentSink
from hub.config import Config
from hub.exchanges import ORDERS
from hub.store import Store
from hub.systems import connector
from tasks.clients import checked_edge
from tasks.exchange import ExchangeRun

#: the documents the hub made: hub key -> order, kind, ERP id and what it was made of
DOCUMENTS = "order_documents"
#: per order, the statuses it had been seen in when its documents were last settled
CHECKED = "order_documents_checked"


@dataclass(frozen=True)
class DocumentRun(ExchangeRun):
    """The documents of one integration: channel ``source`` (orders) → ERP ``target`` (documents)."""

    @property
    def cost_prices_back(self) -> bool:
        """Whether shipments' cost prices go to the channel (the option, and a channel that takes them)."""
        return self.integ.options.documents.cost_prices and connector(self.source_system).can(CostPriceSink)

    @property
    def payments_back(self) -> bool:
        """Whether payment changes made in the ERP go to the channel (the option, payments mapped to
        documents, and a channel that takes them)."""
        mapped = any(self.integ.mappings.get("payment_documents") or {})
        return self.integ.options.documents.payments_back and mapped and connector(self.source_system).can(PaymentSink)


def plan_document_run(config: Config, name: str, store: Store) -> DocumentRun:
    """Check that ``name`` has an orders edge whose ERP side keeps documents.

    Raises:
        ConfigError: no orders edge, or a side lacks the capability.
    """
    integ, source, target = checked_edge(
        config, name, ORDERS, OrderSource, OrderDocuments, "orders: {from: shop, to: erp}"
    )
    return DocumentRun(name, integ, store, source, target)
