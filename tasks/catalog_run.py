"""What every catalog task of one run shares: the integration, its systems, the store, the feed path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.config import Config, ConfigError, Integration
from hub.store import Store

MOYSKLAD = "moysklad"
RETAILCRM = "retailcrm"


@dataclass(frozen=True)
class CatalogRun:
    """One run of a catalog exchange (full import or feed): passed to tasks by reference."""

    name: str
    integ: Integration
    store: Store
    source: str  # system alias the catalog is read from (MoySklad)
    target: str  # system alias it is published to (retailCRM)
    feed_path: Path
    resend_token: str | None = None  # set: send everything again, whatever the snapshots say

    @property
    def wants_stock(self) -> bool:
        return self.integ.edge("stock") is not None

    @property
    def wants_prices(self) -> bool:
        return self.integ.edge("prices") is not None


def plan_catalog_run(config: Config, name: str, store: Store, resend_token: str | None = None) -> CatalogRun:
    """Check that ``name`` routes its catalog from MoySklad to retailCRM and say where the feed goes.

    Raises:
        ConfigError: the integration has no catalog edge, or routes it between other systems, or
            its stock/prices edges do not follow the catalog's direction.
    """
    integ = config.integration(name)
    where = f"integrations.{name}.flows"
    edge = integ.edge("catalog")
    if edge is None:
        raise ConfigError(str(config.source), [(f"{where}.catalog", "the full import needs a catalog edge, "
                                                "e.g. catalog: {from: ms, to: crm}")])
    if integ.systems[edge.source].system != MOYSKLAD or integ.systems[edge.target].system != RETAILCRM:
        raise ConfigError(str(config.source), [(f"{where}.catalog", "the full import runs from a moysklad system "
                                                "to a retailcrm system")])
    for stream in ("stock", "prices"):
        other = integ.edge(stream)
        if other is not None and (other.source, other.target) != (edge.source, edge.target):
            raise ConfigError(str(config.source), [(f"{where}.{stream}", f"must run {edge.source} -> {edge.target} "
                                                    "like the catalog in a full import")])
    feed_dir = integ.options.feed.dir
    if feed_dir is None:
        base = config.source.parent if config.source else Path.cwd()
        feed_dir = base / "feeds"
    elif not feed_dir.is_absolute() and config.source:
        feed_dir = config.source.parent / feed_dir
    feed_path = Path(feed_dir).resolve() / f"{name}.xml"
    return CatalogRun(name, integ, store, edge.source, edge.target, feed_path, resend_token)
