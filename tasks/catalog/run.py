"""What every catalog task of one run shares: the integration, its two sides, the store, the feed path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.capabilities import CatalogFeedSink, CatalogSource, PriceSink, StockSink, StockSource
from hub.config import Config, ConfigError
from hub.store import Store
from hub.systems import connector
from tasks.exchange import ExchangeRun


@dataclass(frozen=True)
class CatalogRun(ExchangeRun):
    """One run of a catalog exchange (full import or feed): passed to tasks by reference."""

    feed_path: Path
    resend_token: str | None = None  # set: send everything again, whatever the snapshots say

    @property
    def wants_stock(self) -> bool:
        return self.integ.edge("stock") is not None

    @property
    def wants_prices(self) -> bool:
        return self.integ.edge("prices") is not None


#: what each side of a full import must implement, by the stream that needs it
_NEEDS = {
    "catalog": ((CatalogSource,), (CatalogFeedSink,)),
    "stock": ((StockSource,), (StockSink,)),
    "prices": ((CatalogSource,), (PriceSink,)),
}


def plan_catalog_run(config: Config, name: str, store: Store, resend_token: str | None = None) -> CatalogRun:
    """Check that ``name`` can run a full import and say where the feed goes.

    Raises:
        ConfigError: the integration has no catalog edge, its stock/prices edges do not follow the
            catalog's direction, or a side lacks a capability the import needs.
    """
    integ = config.integration(name)
    where = f"integrations.{name}.flows"
    edge = integ.edge("catalog")
    if edge is None:
        raise ConfigError(
            str(config.source),
            [(f"{where}.catalog", "the full import needs a catalog edge, e.g. catalog: {from: erp, to: shop}")],
        )
    problems: list[tuple[str, str]] = []
    for stream in ("stock", "prices"):
        other = integ.edge(stream)
        if other is not None and (other.source, other.target) != (edge.source, edge.target):
            problems.append(
                (f"{where}.{stream}", f"must run {edge.source} -> {edge.target} like the catalog in a full import")
            )
    for stream, (reads, writes) in _NEEDS.items():
        if integ.edge(stream) is None:
            continue
        for alias, needed in ((edge.source, reads), (edge.target, writes)):
            system = integ.systems[alias].system
            missing = [cap.__name__ for cap in needed if not connector(system).can(cap)]
            if missing:
                problems.append(
                    (
                        f"{where}.{stream}",
                        f"the full import needs {', '.join(missing)} of "
                        f"{alias} ({system}), which it does not implement",
                    )
                )
    if problems:
        raise ConfigError(str(config.source), problems)
    return CatalogRun(name, integ, store, edge.source, edge.target, feed_path_of(config, name), resend_token)


def feed_path_of(config: Config, name: str) -> Path:
    """Where the feed of integration ``name`` is written (``options.feed.dir``, default ``feeds/``
    next to the config)."""
    feed_dir = config.integration(name).options.feed.dir
    if feed_dir is None:
        base = config.source.parent if config.source else Path.cwd()
        feed_dir = base / "feeds"
    elif not feed_dir.is_absolute() and config.source:
        feed_dir = config.source.parent / feed_dir
    return Path(feed_dir).resolve() / f"{name}.xml"
