"""The YML channel as the conformance suite takes it (:class:`connectors.sandboxing.kit.FeedKit`)."""

from __future__ import annotations

from connectors.sandboxing.kit import FeedKit
from connectors.yml.sandbox.portal import YmlPortal
from connectors.yml.sandbox.sample import sample_categories, sample_slice


def _consume(url: str) -> set[str]:
    return set(YmlPortal(url).load().offers)


def conformance_kit() -> FeedKit:
    """A shop with two outlets, and a portal that loads the feed strictly."""
    return FeedKit(
        settings={"system": "yml", "base_url": "https://shop.example.com", "outlets": ["1", "2"], "pictures": 2},
        sample=sample_slice(),
        categories=sample_categories(),
        consume=_consume,
    )
