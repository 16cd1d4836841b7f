"""Order documents: the ERP documents of an order's life — shipments, returns, payments (docs/documents.md).

A cycle looks at the orders whose statuses or payments moved since their documents were last settled
(what the order upload staged: the channel's orders, the statuses they passed through, their payments),
makes the shipments and payments they are due, then the returns of orders newly cancelled, each
exactly once by its hub key, and puts the new shipments' cost prices on the channel's orders. It
holds the ``documents`` run lock: a cycle that finds it taken says so and ends cleanly. Documents the
ERP refused fail the run (journaled; the next cycle tries them again).
"""

from __future__ import annotations

from prefect import flow

from hub.exchanges import ORDER_DOCUMENTS, RunResult
from tasks.documents.cycle import documents_outcome, make_order_documents
from tasks.documents.run import DocumentRun, plan_document_run
from tasks.exchange import Exchange, Outcome, run_exchange


def make_documents(ex: Exchange[DocumentRun]) -> Outcome:
    """Decide and make the documents the orders are due."""
    return documents_outcome(make_order_documents(ex.run), ex.run.name)


@flow(name="order-documents", flow_run_name="order-documents/{integration}", log_prints=False)  # type: ignore[arg-type]
def order_documents(integration: str, config_path: str | None = None, trigger: str = "schedule") -> RunResult:
    """One documents cycle of ``integration`` (``trigger``: schedule, cli, test)."""
    return run_exchange(ORDER_DOCUMENTS, integration, config_path, plan_document_run, make_documents, trigger)
