"""Payment changes made in the ERP back to the channel (docs/documents.md, "Payments back").

A payment document the hub made (its key names the channel payment) that the ERP's users posted,
unposted or changed the sum of sets the channel payment: its status becomes the first of
``payment_posted_statuses`` or ``payment_unposted_status``, its amount the document's sum. The ERP is
read by its ``updated`` stamp from a cursor (``hub.exchanges.DOCUMENT_PAYMENTS_CURSOR``) minus an overlap; a document
as the hub made it or last set it is the hub's own echo and is skipped. What the channel took is
recorded as the document's content, so the channel's echo (its history of our edit) decides nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from hub.capabilities import OrderDocuments, PaymentChange, PaymentSink
from hub.exchanges import DOCUMENT_PAYMENTS_CURSOR
from tasks.documents.due import Made, payment_content
from tasks.documents.run import DOCUMENTS, DocumentRun
from tasks.orders.stage import plain_rows


@dataclass
class PaymentsBack:
    """What one read of the ERP's payment changes did."""

    read: int = 0
    sent: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # channel payment id -> why


async def payments_back(
    run: DocumentRun, erp: OrderDocuments, sink: PaymentSink, *, now: datetime | None = None
) -> PaymentsBack:
    """Read the payment documents changed since the cursor and set the channel payments they differ from."""
    result, now = PaymentsBack(), now or datetime.now(UTC)
    options = run.integ.options.documents
    overlap = timedelta(seconds=run.integ.options.stock.overlap)
    cursor = run.store.cursors.get(run.name, DOCUMENT_PAYMENTS_CURSOR)
    since = datetime.fromisoformat(cursor) - overlap if cursor else now - overlap
    changed = [d for d in await erp.changed_payments(since) if _ours(run, d.key)]
    result.read = len(changed)
    made = _made_by_key(run, [str(d.key).rsplit(":", 3)[1] for d in changed])
    wanted: dict[str, tuple[PaymentChange, Made, str]] = {}
    for doc in changed:
        record = made.get(str(doc.key))
        if record is None:
            continue  # not recorded yet: the next documents cycle adopts it first
        kind, amount, posted, paid_at = json.loads(record.content)
        if (amount, posted) == (doc.amount, doc.posted):
            continue  # as the hub made or last set it: its own echo
        status = options.payment_posted_statuses[0] if doc.posted else options.payment_unposted_status
        payment_id = str(doc.key).rsplit(":", 1)[1]
        content = payment_content(kind, doc.amount, doc.posted, paid_at)
        wanted[payment_id] = (PaymentChange(status, doc.amount), record, content)
    if wanted:
        result.refused = await sink.set_payments({pid: change for pid, (change, _, _) in wanted.items()})
        taken = [replace(m, content=c) for pid, (_, m, c) in wanted.items() if pid not in result.refused]
        result.sent = len(taken)
        if taken:
            frame = pd.DataFrame([vars(m) for m in taken])
            run.store.records.upsert_frame(run.name, DOCUMENTS, run.target_system, frame, ["order_id", "key"])
    for pid, why in result.refused.items():
        run.store.journal.write(
            run.name, "warning", "documents.payment-back-refused", f"payment {pid} not changed: {why}", {"payment": pid}
        )
    if not result.refused:
        run.store.cursors.set(run.name, DOCUMENT_PAYMENTS_CURSOR, now.isoformat())
    return result


def _ours(run: DocumentRun, key: str | None) -> bool:
    """A payment document this integration made (``<integration>:<order>:payment:<payment id>``)."""
    parts = (key or "").rsplit(":", 3)
    return len(parts) == 4 and parts[0] == run.name and parts[2] == "payment"


def _made_by_key(run: DocumentRun, order_ids: list[str]) -> dict[str, Made]:
    rows = plain_rows(run.store.records.frame(run.name, DOCUMENTS, parents=order_ids))
    return {
        str(r["key"]): Made(str(r["key"]), str(r["order_id"]), str(r["kind"]), str(r["erp_id"]), str(r["content"]))
        for r in rows
    }
