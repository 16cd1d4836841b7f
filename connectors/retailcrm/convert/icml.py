"""ICML: retailCRM's catalog XML (a YML extension), written and read as a stream.

The CRM pulls this file from the URL configured on a store (``reference/sites`` → ``ymlUrl``).
The writer keeps memory constant however many offers it is given: each offer is escaped and written
as it arrives, into a temporary file next to the target, which is fsynced and then moved over the
target with ``os.replace`` — a reader (the CRM, or ``feed serve``) never sees a half-written feed.
A write killed on its way (``kill -9``, a power cut) leaves its temporary file behind; the next write
of the same feed removes it, unless a live writer still holds it (each writer locks its own).
The parser (used by the sandbox, as the real CRM does) is ``iterparse`` based and clears every
element once read.

Element order follows the official example (``crm-samples/icml-official-excerpt.xml``).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

from connectors.feed_files import replaced_atomically, xml_attr, xml_text

__all__ = ["IcmlCategory", "IcmlOffer", "parse_icml", "write_icml"]


@dataclass(frozen=True)
class IcmlCategory:
    """A catalog category; ``parent_id`` refers to another category's ``id``."""

    id: str
    name: str
    parent_id: str | None = None


@dataclass(frozen=True)
class IcmlOffer:
    """One ``<offer>``: a sellable variant. Offers of one product share ``product_id``.

    ``id`` becomes the offer's ``externalId`` in the CRM, ``xml_id`` its ``xmlId`` (the MoySklad id).
    ``params`` are ``(name, code, value)`` triples (characteristics; ``code="article"`` = article).
    ``dimensions`` is ``"L/W/H"`` in centimetres, ``weight`` in kilograms, prices in currency units.
    """

    id: str
    product_id: str
    name: str
    product_name: str
    xml_id: str | None = None
    price: Decimal | None = None
    purchase_price: Decimal | None = None
    quantity: float | None = None
    category_ids: tuple[str, ...] = ()
    pictures: tuple[str, ...] = ()
    params: tuple[tuple[str, str, str], ...] = ()
    vendor: str | None = None
    vat_rate: str | None = None
    active: bool = True
    weight: float | None = None
    dimensions: str | None = None
    url: str | None = None


def format_money(value: Decimal) -> str:
    """Currency units with two decimals, as in the official example (``14000.00``)."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def format_number(value: float) -> str:
    """A quantity or weight without a spurious ``.0`` (``16``, ``0.25``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _offer_xml(offer: IcmlOffer) -> str:
    attrs = f"id={xml_attr(offer.id)} productId={xml_attr(offer.product_id)}"
    if offer.quantity is not None:
        attrs += f" quantity={xml_attr(format_number(max(offer.quantity, 0.0)))}"
    parts = [f"<offer {attrs}>"]

    def el(tag: str, value: object) -> None:
        parts.append(f"<{tag}>{xml_text(value)}</{tag}>")

    if offer.url:
        el("url", offer.url)
    if offer.price is not None:
        el("price", format_money(offer.price))
    if offer.purchase_price is not None:
        el("purchasePrice", format_money(offer.purchase_price))
    for category_id in offer.category_ids:
        el("categoryId", category_id)
    for picture in offer.pictures:
        el("picture", picture)
    el("name", offer.name)
    if offer.xml_id:
        el("xmlId", offer.xml_id)
    el("productName", offer.product_name)
    for name, code, value in offer.params:
        parts.append(f"<param name={xml_attr(name)} code={xml_attr(code)}>{xml_text(value)}</param>")
    if offer.vendor:
        el("vendor", offer.vendor)
    if offer.vat_rate:
        el("vatRate", offer.vat_rate)
    el("productActivity", "Y" if offer.active else "N")
    if offer.weight is not None:
        el("weight", format_number(offer.weight))
    if offer.dimensions:
        el("dimensions", offer.dimensions)
    parts.append("</offer>\n")
    return "".join(parts)


def _category_xml(category: IcmlCategory) -> str:
    parent = f" parentId={xml_attr(category.parent_id)}" if category.parent_id else ""
    return f"<category id={xml_attr(category.id)}{parent}>{xml_text(category.name)}</category>\n"


def write_icml(
    path: Path,
    *,
    shop_name: str,
    company: str,
    categories: Iterable[IcmlCategory],
    offers: Iterable[IcmlOffer],
    generated_at: datetime | None = None,
) -> int:
    """Write an ICML feed to ``path`` atomically, streaming offers one by one.

    Args:
        path: the feed file; replaced only once the new one is complete and synced.
        shop_name, company: ``<shop><name>`` and ``<company>``.
        categories, offers: any iterables (generators welcome: nothing is kept in memory).
        generated_at: the ``yml_catalog@date`` (default: now, local time of the account is not
            known here, so the caller passes it when it matters).

    Returns:
        The number of offers written.
    """
    path = Path(path)
    stamp = (generated_at or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    count = 0
    with replaced_atomically(path) as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f"<yml_catalog date={xml_attr(stamp)}>\n<shop>\n")
        out.write(f"<name>{xml_text(shop_name)}</name>\n<company>{xml_text(company)}</company>\n")
        out.write("<categories>\n")
        for category in categories:
            out.write(_category_xml(category))
        out.write("</categories>\n<offers>\n")
        for offer in offers:
            out.write(_offer_xml(offer))
            count += 1
        out.write("</offers>\n</shop>\n</yml_catalog>\n")
    return count


def _child_texts(elem: ET.Element, tag: str) -> tuple[str, ...]:
    return tuple((child.text or "").strip() for child in elem.findall(tag))


def _opt(elem: ET.Element, tag: str) -> str | None:
    child = elem.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def _decimal(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text).replace(",", "."))


def _offer_from(elem: ET.Element) -> IcmlOffer:
    quantity = elem.get("quantity")
    weight = _opt(elem, "weight")
    return IcmlOffer(
        id=elem.get("id", ""),
        product_id=elem.get("productId", ""),
        name=_opt(elem, "name") or "",
        product_name=_opt(elem, "productName") or _opt(elem, "name") or "",
        xml_id=_opt(elem, "xmlId"),
        price=_decimal(_opt(elem, "price")),
        purchase_price=_decimal(_opt(elem, "purchasePrice")),
        quantity=None if quantity is None else float(quantity),
        category_ids=_child_texts(elem, "categoryId"),
        pictures=_child_texts(elem, "picture"),
        params=tuple((p.get("name", ""), p.get("code", ""), (p.text or "").strip()) for p in elem.findall("param")),
        vendor=_opt(elem, "vendor"),
        vat_rate=_opt(elem, "vatRate"),
        active=(_opt(elem, "productActivity") or "Y").upper() != "N",
        weight=None if weight is None else float(weight),
        dimensions=_opt(elem, "dimensions"),
        url=_opt(elem, "url"),
    )


def _category_from(elem: ET.Element) -> IcmlCategory:
    # Both the short form (<category id>Name</category>) and the long one (<name> child).
    name = _opt(elem, "name")
    if name is None:
        name = (elem.text or "").strip()
    return IcmlCategory(id=elem.get("id", ""), name=name, parent_id=elem.get("parentId") or None)


def parse_icml(source: bytes | str | Path | IO[bytes]) -> tuple[list[IcmlCategory], Iterator[IcmlOffer]]:
    """Parse an ICML feed: the categories at once, the offers as a lazy iterator.

    Args:
        source: the feed's bytes, a path, or a binary file object.

    Raises:
        xml.etree.ElementTree.ParseError: the feed is not well-formed XML (raised while iterating
            the offers when the damage is after the categories).
    """
    stream: IO[bytes] | str
    if isinstance(source, bytes):
        stream = io.BytesIO(source)
    elif isinstance(source, str | Path):
        stream = str(source)
    else:
        stream = source
    events = ET.iterparse(stream, events=("start", "end"))
    categories: list[IcmlCategory] = []
    for event, elem in events:
        if event == "start":
            continue
        if elem.tag == "category":
            categories.append(_category_from(elem))
            elem.clear()
        elif elem.tag == "categories":
            break
        elif elem.tag == "offer":
            # A feed without <categories>: hand the first offer to the iterator below.
            return categories, _offers(events, first=_offer_from(elem))

    return categories, _offers(events, first=None)


def _offers(events: Iterator[tuple[str, ET.Element]], first: IcmlOffer | None) -> Iterator[IcmlOffer]:
    if first is not None:
        yield first
    parent: ET.Element | None = None
    for event, elem in events:
        if event == "start":
            if elem.tag == "offers":
                parent = elem
            continue
        if elem.tag == "offer":
            offer = _offer_from(elem)
            # Drop the finished <offer> from its parent too: clearing it alone would still leave
            # one empty element per offer in the tree (memory linear in the catalog).
            if parent is not None:
                parent.clear()
            yield offer
