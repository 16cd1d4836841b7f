"""The ERP documents of an order's life: shipments, returns, payments (docs/documents.md)."""
