"""Per-stream options of an integration (``integrations.<name>.options``): behaviour, not systems.

Options of one system (a batch size, a site) are that system's settings (:mod:`hub.systems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator


class FeedOptions(BaseModel):
    """Where the ICML catalog feed is written, what it holds, and the secret part of the URL it is served at.

    There is no URL option: the URL the CRM loads is the feed server's own
    (``<server>/feeds/<integration>/<path_secret>.xml``, set once as the site's ``ymlUrl`` in the CRM).
    A URL here held the secret in plain text, resolved and printed by ``config check``, and was read
    by nothing; a config that still has one is told to drop it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    dir: Path | None = Field(default=None, description="folder of the feed file (default: next to the db)")
    shop_name: str = "Shop"
    company: str = "Company"
    path_secret: str | None = Field(
        default=None,
        description="secret reference (${ENV_VAR} or prefect-secret:<block>) of the unguessable "
        "part of the feed URL, /feeds/<integration>/<secret>.xml; required unless served on loopback",
    )
    purchase_prices: bool = Field(default=True, description="put purchase (cost) prices in the feed")
    images_url: HttpUrl | None = Field(
        default=None,
        description="the public address of the hub's feed server (e.g. https://hub.example.com): a picture "
        "the source gives no public link for (MoySklad off paid tariffs) is put in the feed as "
        "<images_url>/images/<integration>/<path_secret>/<image id>, which the server answers from its "
        "cache, downloading the image with the source's credentials once per change",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_public_url(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "public_url" in value:
            raise ValueError(
                "public_url is not an option (nothing read it, and a feed URL holds the path secret): remove it; "
                "the CRM's site loads <feed server>/feeds/<integration>/<path_secret>.xml, its ymlUrl in the CRM"
            )
        return value


class CatalogOptions(BaseModel):
    """What the catalog exchanges (full import, feed) publish."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    include_archived: bool = Field(default=False, description="publish archived items as inactive")
    images: bool = Field(default=True, description="read pictures and put them in the catalog")


class StockOptions(BaseModel):
    """How stock is measured and sent: the seed modules' rules, their defaults.

    The seed's "do not count expected goods" is ``measure: freeStock`` (or ``stock``); only
    ``quantity`` counts goods expected on purchase orders.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    measure: Literal["stock", "freeStock", "quantity"] = Field(
        default="freeStock",
        description="stock = on hand; freeStock = on hand - reserve (the default); "
        "quantity = on hand - reserve + expected goods",
    )
    cap: int = Field(default=999_999, ge=0, description="largest quantity sent to a channel")
    zero_sold_out: bool = Field(
        default=True,
        description="send 0 for an item at or below 0; false: leave its stock in the channel "
        "untouched (the seed's 'do not zero stock in the CRM')",
    )
    include_archived: bool = Field(
        default=False,
        description="send stock of archived items too (the seed's 'do not sync inactive items' is the default)",
    )
    storeless_reserve_from: str | None = Field(
        default=None,
        description="channel warehouse code whose stock the reserve of orders without a "
        "store is taken from; unset: that reserve is not counted (no warehouse can be told)",
    )
    full_every: int = Field(
        default=86_400,
        ge=600,
        description="seconds between full reconciliations (a whole read, not only what changed), to catch drift",
    )
    overlap: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="seconds each changed-since read reaches before the previous one (clock skew, recalculation lag)",
    )
    webhook_secret: str | None = Field(
        default=None,
        description="secret reference of the token in the stock webhook URL, "
        "/hooks/<system>/<integration>/<token>; no secret: the integration takes no webhooks",
    )


#: what a customer can be looked for by among the ERP's counterparties
SearchKey = Literal["phone", "email", "inn"]


def _search_keys() -> list[SearchKey]:
    return ["phone", "email", "inn"]


class OrderOptions(BaseModel):
    """How channel orders are uploaded to the ERP (docs/orders.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    upload_statuses: list[str] = Field(
        default_factory=list,
        description="upload an order once it reaches (or passed through) one of these "
        "channel statuses; empty: any status",
    )
    customer_search: list[SearchKey] = Field(
        default_factory=_search_keys,
        description="how a customer is looked for among the ERP's counterparties, in this order",
    )
    customer_group: str | None = Field(default=None, description="ERP counterparty group (tag) new customers go to")
    organization: str | None = Field(default=None, description="ERP organization name; default: the ERP's first")
    number: Literal["channel", "erp"] = Field(
        default="channel", description="channel: the ERP order is named by the channel's number; erp: left to the ERP"
    )
    reserve: bool = Field(default=False, description="reserve the ordered quantities at the shipment store")
    reserve_line_statuses: list[str] = Field(
        default_factory=list,
        description="with reserve on, reserve only the lines whose channel line status is "
        "one of these (the seed's per-line-status reserve); empty: every line",
    )
    cancelled_line_statuses: list[str] = Field(
        default_factory=list,
        description="channel line statuses that mean the line is cancelled (the seed's line statuses)",
    )
    keep_cancelled_lines: bool = Field(
        default=True,
        description="a cancelled line stays on the ERP order without reserve (on an order new to the ERP: "
        "at zero price too); false: it is left out of the ERP order",
    )
    delivery_line: bool = Field(default=True, description="the delivery as a service line")
    default_delivery: str | None = Field(
        default=None,
        description="ERP service of delivery types mappings.delivery_types does not name "
        "(journaled); null: no delivery line for them",
    )
    unmapped_delivery: Literal["default", "hold"] = Field(
        default="default",
        description="a delivery type mappings.delivery_types does not name: default = sent as "
        "default_delivery (journaled); hold = the order is parked until it is mapped",
    )
    unmapped_payment: Literal["skip", "hold"] = Field(
        default="skip",
        description="a payment type mappings.payment_types does not name: skip = the order goes without "
        "that payment; hold = the order is parked until it is mapped",
    )
    poll_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="how often the long-running process asks the channel for order changes, s "
        "(default: the channel's own, its share of the channel's budget: retailCRM 2, keyCRM and Horoshop 60)",
    )
    archive_statuses: list[str] = Field(
        default_factory=list,
        description="channel statuses whose orders are closed at the ERP: uploaded in their mapped state "
        "with nothing reserved (the seed's archive statuses)",
    )
    create_items: bool = Field(
        default=False,
        description="an order line naming an item the ERP lacks (a channel's one-time product, matched by "
        "the channel's SKU) creates it in the ERP; false: the order is parked until it is in the catalog",
    )
    keep_product_info: bool = Field(
        default=False,
        description='the seed\'s "do not change product information" on re-receipt: an order the ERP has '
        "already, received again, keeps the lines it was last uploaded with (items, quantities, prices, "
        "discounts, delivery line; no item is made for a line new to it); its state, customer, comments, "
        "store and reserve still follow the channel; false: the lines follow the channel too",
    )
    webhook_secret: str | None = Field(
        default=None,
        description="secret reference of the token in the channel's order webhook URL, "
        "/hooks/<system>/<integration>/<token> (a channel that sends order webhooks); none: polled only",
    )

    @model_validator(mode="after")
    def _distinct(self) -> OrderOptions:
        twice = sorted({k for k in self.customer_search if self.customer_search.count(k) > 1})
        if twice:
            raise ValueError(f"customer_search names {twice} more than once")
        return self


class DocumentOptions(BaseModel):
    """The ERP documents of an order's life (docs/documents.md): the seed module "МойСклад 2.0"'s
    options, its defaults. Statuses are the channel's; ``mappings.payment_documents`` (channel payment
    type → ``bank`` | ``cash``) says which payments become documents, and ``mappings.payment_accounts``
    (channel payment type → the organization's settlement account number) which account a bank
    payment goes to (none: the organization's default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shipment_statuses: list[str] = Field(
        default_factory=list,
        description="make the order's shipment (posted, its lines the ERP order's) once the order "
        "reaches or passed through one of these channel statuses; empty: no shipments",
    )
    shipment_cancel_statuses: list[str] = Field(
        default_factory=list,
        description="an order that reaches one of these statuses gets a return for each of its shipments",
    )
    shipment_number: bool = Field(
        default=True, description="name the shipment by the order's number; false: the ERP numbers it"
    )
    shipment_custom_fields: bool = Field(
        default=False, description="copy the order's custom fields the shipment has too (same name)"
    )
    moves: bool = Field(
        default=False,
        description="with the shipment, a move of the order's lines reserved at another warehouse (the "
        "line's store) to the shipment store, one per store, made once",
    )
    moves_posted: bool = Field(
        default=True, description="the moves are posted (stock moves at once); false: made unposted, for the warehouse"
    )
    cost_prices: bool = Field(
        default=True, description="once a shipment is made, put its lines' cost price on the channel order"
    )
    cost_prices_overwrite: bool = Field(
        default=False, description="cost prices over the ones the channel's lines have already (default: only empty)"
    )
    payment_posted_statuses: list[str] = Field(
        default_factory=lambda: ["paid"],
        description="channel payment statuses whose payment document is posted; others are made unposted",
    )
    payment_number: bool = Field(
        default=True, description="name the payment document by the channel's payment id; false: the ERP numbers it"
    )
    payments_back: bool = Field(
        default=True,
        description="a payment document changed in the ERP (posted, unposted, its sum) changes the channel's "
        "payment: status the first of payment_posted_statuses or payment_unposted_status, and its amount",
    )
    payment_unposted_status: str = Field(
        default="not-paid", description="the channel payment status of a payment document unposted in the ERP"
    )
    force_delete: bool = Field(
        default=False,
        description="an order deleted in the channel is deleted in the ERP with its documents; "
        "false: it stays there, and the deletion is journaled",
    )


class FieldOptions(BaseModel):
    """Two-way order fields (docs/order-fields.md): custom fields through ``mappings.custom_fields``
    (ERP field name → channel field code; several ERP fields may name one code) and the responsible
    manager through ``mappings.managers`` (channel manager id → ERP employee: name, e-mail or id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    back: bool = Field(
        default=True,
        description="mapped custom fields and the responsible employee changed in the ERP come back to the "
        "channel order (read by each documents cycle); several ERP fields on one channel field: the last "
        "one in mappings.custom_fields wins",
    )
    match_managers: bool = Field(
        default=True,
        description="a manager mappings.managers does not name is matched to an ERP employee by e-mail, then "
        "by first and last name; false: only the mapping (an unmatched manager is journaled, the order goes "
        "without one)",
    )


class TwoWayOptions(BaseModel):
    """Two-way exchanges of a channel and its ERP (docs/two_way.md): the seed module "МойСклад 2.0"'s
    customer changes, "accept changes from MoySklad" and retail sales. ``mappings.retail_shops``
    (the ERP's legal entity name → channel shop code) says which shop gets the order of a retail sale
    made without one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    customers_to_erp: bool = Field(
        default=True,
        description="a channel customer's changes (name, phone, e-mail, address, INN/KPP) go to its ERP "
        "counterparty, for customers the hub linked (came from the channel)",
    )
    customers_from_erp: bool = Field(
        default=True,
        description="a linked ERP counterparty's changes go to the channel customer (the address into the "
        "address notes); counterparties created in the ERP are not pushed",
    )
    accept_erp_changes: bool = Field(
        default=False,
        description="the seed's 'accept changes from MoySklad': an order's manager comment and lines "
        "changed in the ERP come back to the channel order (its state comes back by the status sync)",
    )
    retail_increase: bool = Field(
        default=False, description="a retail sale made from an order raises the order's line quantities it sold more of"
    )
    retail_decrease: bool = Field(
        default=False, description="a retail sale made from an order lowers the order's line quantities it sold less of"
    )
    retail_add: bool = Field(
        default=False, description="a retail sale made from an order adds to the order the items it sold that it lacks"
    )
    retail_remove: bool = Field(
        default=False, description="a retail sale made from an order removes from the order the items it did not sell"
    )
    retail_orders: bool = Field(
        default=True,
        description="a retail sale made without an order creates one in the channel shop mappings.retail_shops "
        "maps its legal entity to (unmapped: journaled, created once mapped)",
    )
    retail_order_status: str | None = Field(
        default=None,
        description="the channel status of an order created for a retail sale; null: the channel's default",
    )
    webhook_secret: str | None = Field(
        default=None,
        description="secret reference of the token in the ERP's change webhook URL "
        "(/hooks/<system>/<integration>/<token>: counterparty updates, retail sales); none: no change webhooks",
    )


def check_order_mappings(mappings: Mapping[str, Mapping[str, str | None]]) -> list[str]:
    """Problems of the order mappings: ``statuses`` is 1:1 (two channel statuses on one ERP state name
    both); names are compared case-sensitively, as the ERP does."""
    problems: list[str] = []
    for ptype, kind in (mappings.get("payment_documents") or {}).items():
        if kind not in (None, "bank", "cash"):
            problems.append(
                f"payment_documents: {ptype!r} is mapped to {kind!r}; a payment document is `bank` (an incoming "
                "payment) or `cash` (a cash receipt), or null (no document)"
            )
    by_state: dict[str, list[str]] = {}
    for status, state in (mappings.get("statuses") or {}).items():
        if state is not None:
            by_state.setdefault(state, []).append(str(status))
    for state, statuses in by_state.items():
        if len(statuses) > 1:
            problems.append(
                f"statuses: {' and '.join(repr(s) for s in statuses)} are both mapped to the ERP "
                f"state {state!r}; the mapping is 1:1 (statuses come back by it)"
            )
    return problems


#: option keys of the first releases -> where they live now (a clear error instead of "unknown key")
_MOVED_OPTIONS = {
    "stock_type": "options.stock.measure",
    "stock_cap": "options.stock.cap",
    "include_archived": "options.catalog.include_archived",
    "import_images": "options.catalog.images",
    "upload_batch_size": "batch_size of the channel system (systems.<alias>.batch_size)",
}


class IntegrationOptions(BaseModel):
    """Behaviour switches of one integration, per stream (defaults follow the seed modules).

    Options of one system (a batch size, a site) are that system's settings, not here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    catalog: CatalogOptions = CatalogOptions()
    stock: StockOptions = StockOptions()
    feed: FeedOptions = FeedOptions()
    orders: OrderOptions = OrderOptions()
    documents: DocumentOptions = DocumentOptions()
    fields: FieldOptions = FieldOptions()
    two_way: TwoWayOptions = TwoWayOptions()

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            moved = [f"{old} is now {new}" for old, new in _MOVED_OPTIONS.items() if old in value]
            if moved:
                raise ValueError("; ".join(moved))
        return value
