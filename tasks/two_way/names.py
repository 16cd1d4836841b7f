"""Names the two-way exchanges share with the order upload (a module of its own, so the upload imports
no more of them than these)."""

from __future__ import annotations

#: channel orders the hub created for the ERP's retail sales (records; key = channel order id): they
#: are the ERP's already, so the order upload does not send them back as new orders
ERP_BORN = "two_way_erp_born_orders"
