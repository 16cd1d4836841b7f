"""What a connector hands the conformance suite: one seeded account of its sandbox and how to reach it.

A connector declares its kit (``Connector.sandbox``); the suite in ``tests/connectors/test_conformance.py``
then holds it to the bar every connector meets — a wrong secret refused at once, listings paged to
the end with the loop guard, rate refusals and server errors honoured, each declared capability
answering in canonical frames, secrets redacted — without anyone writing those tests again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.sandboxing.front_door import SandboxFrontDoor


@dataclass
class SandboxKit:
    """One account of a connector's sandbox, seeded so that its listings take more than one page.

    Attributes:
        sandbox: the emulated API (its ``app``, ``faults`` and request ``log``).
        settings: the system's entry of a config, with ``{base_url}`` (the sandbox's root URL, where
            its API is served under its usual path) and every secret as an ``${ENV}`` reference.
        secrets: the values of those references that the account accepts.
        wrong_secrets: values it refuses.
        listing: reads a whole listing through the client; returns the rows read.
        listing_rows: how many rows that listing has in the sandbox.
        listing_path: the path of that listing from the root (what the loop-guard check sabotages).
        page_param: the query parameter that names the page of that listing.
        page_size: rows per page the client asks for.
    """

    sandbox: SandboxFrontDoor
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]
    wrong_secrets: Mapping[str, str]
    listing: Callable[[Any], Awaitable[int]]
    listing_rows: int
    listing_path: str
    page_param: str
    page_size: int


@dataclass
class FeedKit:
    """What a feed-only connector (no API of its own: a portal loads the file we publish) hands the
    conformance suite: a sample of the catalog, and a consumer that loads the feed as a portal does.

    Attributes:
        settings: the system's entry of a config (no secret: nothing is called).
        sample: canonical frames of a small catalog slice (a ``hub.capabilities.FeedSlice``) holding
            variants, a service, a bundle, pictures and stock in several warehouses.
        categories: canonical ``categories`` of that catalog.
        consume: loads the feed at a URL as the channel would, strictly; returns the offer ids it
            accepted (raises on a feed it refuses).
    """

    settings: Mapping[str, Any]
    sample: Any
    categories: Any
    consume: Callable[[str], set[str]]
