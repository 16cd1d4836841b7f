"""A YML consumer as a portal is one (Agora's YML import, Prom, Yandex Market): it fetches the feed
over HTTP on its schedule, with a conditional GET, and refuses a feed that breaks the format's rules.

The rules are the format's documentation's (Yandex Market, "YML: shop, categories, offers" and
"offer elements, simplified type"; Yandex Direct "Требования к YML-фиду"), not our writer's:

* one ``yml_catalog`` root whose ``date`` is ``YYYY-MM-DD hh:mm`` (seconds or an ISO 8601 time
  with its zone also accepted), one ``shop`` with ``name``, ``company``, ``url`` (http/https),
  ``currencies``, ``categories``, ``offers`` — currencies and categories before the offers;
* a currency id is one of RUR, RUB, UAH, BYN, KZT, USD, EUR; exactly one has ``rate="1"``;
* a category ``id`` is a positive integer of at most 18 digits, unique; ``parentId`` names a
  category of the file, and no category is its own ancestor;
* an offer ``id`` is unique, at most 80 characters of Latin and Russian letters (no ё), digits and
  ``. , / \\ ( ) [ ] - =``; ``available`` is ``true``/``false``; ``group_id`` at most 9 digits;
* ``price`` (required) and ``oldprice`` are positive decimals written with a point, and an old price
  is above the price; ``currencyId`` (required) is declared; ``categoryId`` (required, one) names a
  category of the file; at most 30 ``picture`` links, each http/https of at most 512 characters;
  ``name`` (required) at most 150 characters, ``description`` at most 3000; ``count`` a non-negative
  integer; ``outlets/outlet`` with a unique ``id`` and a non-negative integer ``instock``;
  ``param`` with a non-empty ``name``;
* no element the simplified offer type does not have, and no control character (XML 1.0).

The parser streams (``iterparse``, each offer cleared once read), as a portal must with 100 000
offers.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

import httpx

CURRENCIES = frozenset({"RUR", "RUB", "UAH", "BYN", "KZT", "USD", "EUR"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?")
_OFFER_ID = re.compile(r"[A-Za-z0-9А-Яа-яЁё.,/\\()\[\]=-]{1,80}")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_URL = re.compile(r"https?://[^\s]{1,505}")
#: the children the simplified offer type has (a subset of the format's: what a feed of ours may use)
OFFER_CHILDREN = frozenset(
    {
        "url", "price", "oldprice", "currencyId", "categoryId", "picture", "name", "vendor", "vendorCode",
        "description", "count", "outlets", "param", "barcode", "weight", "dimensions", "sales_notes",
        "store", "pickup", "delivery", "country_of_origin", "manufacturer_warranty",
    }
)  # fmt: skip
SHOP_CHILDREN = ("name", "company", "url", "platform", "version", "currencies", "categories", "offers")


class YmlError(ValueError):
    """The feed breaks the format: every problem found, each naming where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the YML feed: " + "; ".join(problems[:10]))
        self.problems = problems


@dataclass
class PortalOffer:
    """What the portal takes from one offer."""

    id: str
    name: str
    available: bool
    price: Decimal
    old_price: Decimal | None
    category_id: str
    group_id: str | None
    pictures: tuple[str, ...]
    count: int | None
    outlets: dict[str, int]
    params: dict[str, tuple[str | None, str]]  # name -> (unit, value)
    vendor: str | None
    vendor_code: str | None


@dataclass
class YmlCatalog:
    """A feed that passed every rule."""

    date: str
    shop: dict[str, str]
    currencies: dict[str, str]
    categories: dict[str, tuple[str, str | None]]  # id -> (name, parent id)
    offers: dict[str, PortalOffer] = field(default_factory=dict)


def _positive(text: str | None) -> Decimal | None:
    if text is None or not _NUMBER.fullmatch(text.strip()):
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value > 0 else None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.catalog = YmlCatalog("", {}, {}, {})

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def root(self, elem: ET.Element) -> None:
        if elem.tag != "yml_catalog":
            self.fail("root", f"is <{elem.tag}>, not <yml_catalog>")
        date = elem.get("date")
        if date is None or not _DATE.fullmatch(date):
            self.fail("yml_catalog@date", f"{date!r} is not YYYY-MM-DD hh:mm")
        self.catalog.date = date or ""

    def shop_field(self, elem: ET.Element) -> None:
        text = (elem.text or "").strip()
        if not text:
            self.fail(f"shop/{elem.tag}", "is empty")
        if elem.tag == "url" and not _URL.fullmatch(text):
            self.fail("shop/url", f"{text!r} is not an http(s) URL")
        self.catalog.shop[elem.tag] = text

    def currencies(self, elem: ET.Element) -> None:
        for currency in elem:
            cid, rate = currency.get("id", ""), currency.get("rate", "")
            if currency.tag != "currency" or cid not in CURRENCIES:
                self.fail("currencies", f"<{currency.tag} id={cid!r}> is not one of {sorted(CURRENCIES)}")
            self.catalog.currencies[cid] = rate
        if list(self.catalog.currencies.values()).count("1") != 1:
            self.fail("currencies", 'exactly one currency must have rate="1" (the shop\'s own)')

    def categories(self, elem: ET.Element) -> None:
        found = self.catalog.categories
        for category in elem:
            cid, parent = category.get("id", ""), category.get("parentId")
            if category.tag != "category" or not cid.isdigit() or int(cid) <= 0 or len(cid) > 18:
                self.fail("categories", f"category id {cid!r} is not a positive integer of at most 18 digits")
            if cid in found:
                self.fail("categories", f"category id {cid} is declared twice")
            if not (category.text or "").strip():
                self.fail(f"category {cid}", "has no name")
            found[cid] = ((category.text or "").strip(), parent)
        for cid, (_, parent) in found.items():
            seen = {cid}
            while parent is not None:
                if parent not in found:
                    self.fail(f"category {cid}", f"parentId {parent} is not a category of the file")
                    break
                if parent in seen:
                    self.fail(f"category {cid}", "is its own ancestor")
                    break
                seen.add(parent)
                parent = found[parent][1]

    def offer(self, elem: ET.Element) -> None:
        oid = elem.get("id", "")
        where = f"offer {oid!r}"
        if not _OFFER_ID.fullmatch(oid) or "ё" in oid.lower():
            self.fail(where, "id must be 1-80 letters, digits or . , / \\ ( ) [ ] - =")
        if oid in self.catalog.offers:
            self.fail(where, "id is not unique")
        available = elem.get("available", "true")
        if available not in ("true", "false"):
            self.fail(where, f"available={available!r} is not true/false")
        group = elem.get("group_id")
        if group is not None and not (group.isdigit() and len(group) <= 9):
            self.fail(where, f"group_id {group!r} is not an integer of at most 9 digits")
        unknown = sorted({child.tag for child in elem} - OFFER_CHILDREN)
        if unknown:
            self.fail(where, f"has elements the format does not know here: {unknown}")

        def one(tag: str, required: bool) -> str | None:
            found = elem.findall(tag)
            if len(found) > 1:
                self.fail(where, f"has {len(found)} <{tag}>, at most one allowed")
            if required and not found:
                self.fail(where, f"has no <{tag}>")
            return (found[0].text or "").strip() if found else None

        price = _positive(one("price", True))
        if price is None:
            self.fail(where, "price is not a positive number written with a point")
        old_text = one("oldprice", False)
        old = _positive(old_text) if old_text is not None else None
        if old_text is not None and (old is None or price is None or old <= price):
            self.fail(where, f"oldprice {old_text!r} is not above the price")
        currency = one("currencyId", True)
        if currency is not None and currency not in self.catalog.currencies:
            self.fail(where, f"currencyId {currency!r} is not declared in <currencies>")
        category = one("categoryId", True)
        if category is not None and category not in self.catalog.categories:
            self.fail(where, f"categoryId {category!r} is not a category of the file")
        pictures = tuple((p.text or "").strip() for p in elem.findall("picture"))
        if len(pictures) > 30:
            self.fail(where, f"has {len(pictures)} pictures, at most 30")
        for picture in pictures:
            if not _URL.fullmatch(picture):
                self.fail(where, f"picture {picture!r} is not an http(s) URL of at most 512 characters")
        name = one("name", True) or ""
        if not name or len(name) > 150:
            self.fail(where, "name must be 1-150 characters")
        description = one("description", False)
        if description is not None and len(description) > 3000:
            self.fail(where, "description is over 3000 characters")
        count_text = one("count", False)
        count = _int(count_text)
        if count_text is not None and count is None:
            self.fail(where, f"count {count_text!r} is not a non-negative integer")
        outlets: dict[str, int] = {}
        for holder in elem.findall("outlets"):
            for outlet in holder:
                outlet_id, instock = outlet.get("id", ""), _int(outlet.get("instock"))
                if outlet.tag != "outlet" or not outlet_id or instock is None:
                    self.fail(where, f"outlet {outlet_id!r} needs an id and a non-negative integer instock")
                elif outlet_id in outlets:
                    self.fail(where, f"outlet {outlet_id!r} is listed twice")
                else:
                    outlets[outlet_id] = instock
        params: dict[str, tuple[str | None, str]] = {}
        for param in elem.findall("param"):
            pname = (param.get("name") or "").strip()
            if not pname:
                self.fail(where, "a <param> has no name")
            params[pname] = (param.get("unit"), (param.text or "").strip())
        self.catalog.offers[oid] = PortalOffer(
            id=oid,
            name=name,
            available=available == "true",
            price=price or Decimal(0),
            old_price=old,
            category_id=category or "",
            group_id=group,
            pictures=pictures,
            count=count,
            outlets=outlets,
            params=params,
            vendor=one("vendor", False),
            vendor_code=one("vendorCode", False),
        )


def check_yml(source: bytes | str | Path | IO[bytes]) -> YmlCatalog:
    """Read a YML feed as a strict portal does: everything it holds, or every rule it breaks.

    Raises:
        YmlError: the problems found (malformed XML included).
    """
    stream: IO[bytes] | str
    if isinstance(source, bytes):
        if not source.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml"):
            raise YmlError(["header: the file must start with the XML declaration"])
        stream = io.BytesIO(source)
    elif isinstance(source, str | Path):
        stream = str(source)
    else:
        stream = source
    checker = _Checker()
    order: list[str] = []
    depth = 0
    try:
        events: Iterator[tuple[str, ET.Element]] = ET.iterparse(stream, events=("start", "end"))
        offers_parent: ET.Element | None = None
        for event, elem in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    checker.root(elem)
                elif depth == 3 and elem.tag == "offers":
                    offers_parent = elem
                continue
            depth -= 1
            if depth == 2:  # a child of <shop>
                order.append(elem.tag)
                if elem.tag in ("name", "company", "url"):
                    checker.shop_field(elem)
                elif elem.tag == "currencies":
                    checker.currencies(elem)
                elif elem.tag == "categories":
                    checker.categories(elem)
                elif elem.tag not in SHOP_CHILDREN:
                    checker.fail("shop", f"<{elem.tag}> is not an element of <shop>")
            elif depth == 3 and elem.tag == "offer" and offers_parent is not None:
                checker.offer(elem)
                offers_parent.clear()  # memory stays flat: the finished offer leaves the tree
    except ET.ParseError as error:
        raise YmlError([f"not well-formed XML: {error}"]) from error
    for required in ("name", "company", "url", "currencies", "categories", "offers"):
        if required not in order:
            checker.fail("shop", f"has no <{required}>")
    if "offers" in order and any(
        order.index(t) > order.index("offers") for t in ("currencies", "categories") if t in order
    ):
        checker.fail("shop", "<currencies> and <categories> must come before <offers>")
    if checker.problems:
        raise YmlError(checker.problems)
    return checker.catalog


@dataclass
class YmlPortal:
    """A portal loading one feed URL on its schedule: a conditional GET each time, the feed checked.

    Attributes:
        url: the feed's URL (the hub's feed server, with the path secret).
        loads: the HTTP status of every fetch (200 loaded, 304 unchanged).
        catalog: the last feed that passed the rules.
    """

    url: str
    loads: list[int] = field(default_factory=list)
    catalog: YmlCatalog | None = None
    _etag: str | None = None
    _modified: str | None = None

    def load(self, client: httpx.Client | None = None) -> YmlCatalog:
        """Fetch the feed (conditionally once one was loaded) and check it.

        Raises:
            YmlError: the fetched feed breaks the format (the previous catalog stays).
            httpx.HTTPStatusError: the server answered neither 200 nor 304.
        """
        headers = {}
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._modified:
            headers["If-Modified-Since"] = self._modified
        own = client is None
        http = client or httpx.Client(timeout=30)
        try:
            answer = http.get(self.url, headers=headers)
        finally:
            if own:
                http.close()
        self.loads.append(answer.status_code)
        if answer.status_code == 304 and self.catalog is not None:
            return self.catalog
        answer.raise_for_status()
        self.catalog = check_yml(answer.content)
        self._etag, self._modified = answer.headers.get("etag"), answer.headers.get("last-modified")
        return self.catalog
