"""YML (Yandex Market Language): the catalog file Agora, Prom, Rozetka, Horoshop and Yandex Market
load, written as a stream.

The writer holds one offer at a time whatever the catalog size: each ``<offer>`` is escaped and
written as it arrives into a temporary file next to the target, which is fsynced and moved over the
target with ``os.replace`` — a portal polling the feed never sees a half-written one.

Shape and order follow the format's documentation (Yandex Market "YML: the shop element" and
"offer elements", the simplified offer type): ``<yml_catalog date="YYYY-MM-DD hh:mm"><shop>`` with
``name``, ``company``, ``url``, ``currencies``, ``categories`` and ``offers``; in an offer ``url``,
``price``, ``oldprice``, ``currencyId``, ``categoryId``, ``picture``, ``name``, ``vendor``,
``vendorCode``, ``description``, ``count``, ``outlets``, ``param``. What the format requires of each
value is checked by the strict reader in :mod:`connectors.yml.sandbox.portal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from connectors.feed_files import replaced_atomically, xml_attr, xml_text

__all__ = ["YmlCategory", "YmlOffer", "YmlShop", "format_price", "write_yml"]


@dataclass(frozen=True)
class YmlShop:
    """The ``<shop>`` header: who sells, where, in which currency."""

    name: str
    company: str
    url: str
    currency: str


@dataclass(frozen=True)
class YmlCategory:
    """A ``<category id parentId>``; ids are positive integers (the format's rule)."""

    id: str
    name: str
    parent_id: str | None = None


@dataclass(frozen=True)
class YmlOffer:
    """One ``<offer>``: a sellable item. Variants of one product share ``group_id``.

    ``params`` are ``(name, unit, value)`` (unit may be empty); ``outlets`` are ``(outlet id,
    quantity)``; prices in currency units.
    """

    id: str
    name: str
    available: bool
    price: Decimal | None
    currency: str
    category_id: str | None
    group_id: str | None = None
    old_price: Decimal | None = None
    pictures: tuple[str, ...] = ()
    vendor: str | None = None
    vendor_code: str | None = None
    description: str | None = None
    count: int | None = None
    outlets: tuple[tuple[str, int], ...] = ()
    params: tuple[tuple[str, str, str], ...] = ()
    url: str | None = None


def format_price(value: Decimal) -> str:
    """A price with the point as separator and no needless zeros (``226.5``, ``250``)."""
    quantized = Decimal(value).quantize(Decimal("0.01"))
    return str(quantized.to_integral_value()) if quantized == quantized.to_integral_value() else str(quantized)


def _offer_xml(offer: YmlOffer) -> str:
    attrs = f"id={xml_attr(offer.id)} available={xml_attr('true' if offer.available else 'false')}"
    if offer.group_id:
        attrs += f" group_id={xml_attr(offer.group_id)}"
    parts = [f"<offer {attrs}>"]

    def el(tag: str, value: object) -> None:
        parts.append(f"<{tag}>{xml_text(value)}</{tag}>")

    if offer.url:
        el("url", offer.url)
    if offer.price is not None:
        el("price", format_price(offer.price))
    if offer.old_price is not None and offer.price is not None and offer.old_price > offer.price:
        el("oldprice", format_price(offer.old_price))  # the format ignores an old price not above the price
    el("currencyId", offer.currency)
    if offer.category_id:
        el("categoryId", offer.category_id)
    for picture in offer.pictures:
        el("picture", picture)
    el("name", offer.name)
    if offer.vendor:
        el("vendor", offer.vendor)
    if offer.vendor_code:
        el("vendorCode", offer.vendor_code)
    if offer.description:
        el("description", offer.description)
    if offer.count is not None:
        el("count", max(offer.count, 0))
    if offer.outlets:
        parts.append("<outlets>")
        parts.extend(f"<outlet id={xml_attr(o)} instock={xml_attr(max(q, 0))}/>" for o, q in offer.outlets)
        parts.append("</outlets>")
    for name, unit, value in offer.params:
        unit_attr = f" unit={xml_attr(unit)}" if unit else ""
        parts.append(f"<param name={xml_attr(name)}{unit_attr}>{xml_text(value)}</param>")
    parts.append("</offer>\n")
    return "".join(parts)


def write_yml(
    path: Path,
    *,
    shop: YmlShop,
    categories: Iterable[YmlCategory],
    offers: Iterable[YmlOffer],
    generated_at: datetime | None = None,
) -> int:
    """Write a YML feed to ``path`` atomically, streaming offers one by one; return how many.

    Args:
        path: the feed file; replaced only once the new one is complete and synced.
        shop: the ``<shop>`` header.
        categories, offers: any iterables (generators welcome: nothing is kept in memory).
        generated_at: the ``yml_catalog@date`` (default: now).
    """
    path = Path(path)
    stamp = (generated_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    count = 0
    with replaced_atomically(path) as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f"<yml_catalog date={xml_attr(stamp)}>\n<shop>\n")
        out.write(f"<name>{xml_text(shop.name)}</name>\n<company>{xml_text(shop.company)}</company>\n")
        out.write(f"<url>{xml_text(shop.url)}</url>\n")
        out.write(f'<currencies>\n<currency id={xml_attr(shop.currency)} rate="1"/>\n</currencies>\n')
        out.write("<categories>\n")
        for category in categories:
            parent = f" parentId={xml_attr(category.parent_id)}" if category.parent_id else ""
            out.write(f"<category id={xml_attr(category.id)}{parent}>{xml_text(category.name)}</category>\n")
        out.write("</categories>\n<offers>\n")
        for offer in offers:
            out.write(_offer_xml(offer))
            count += 1
        out.write("</offers>\n</shop>\n</yml_catalog>\n")
    return count
