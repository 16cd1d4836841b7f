"""A capability of one system of an integration, opened for one task: the registry does the rest.

Tasks never name a system or a client class: they ask for a protocol of :mod:`hub.capabilities`
on a system alias of the config, and get the connector's implementation over a fresh client.
Secrets are resolved here (through :func:`hub.config.resolve_secret`) and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any, TypeVar, cast, overload

from hub.config import Config, ConfigError, Integration, resolve_secret
from hub.systems import connector

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
R = TypeVar("R")


@asynccontextmanager
async def open_capability(integ: Integration, alias: str, capability: type[T]) -> AsyncIterator[T]:
    """``capability`` of the system ``alias`` of ``integ``, its client closed on exit.

    Raises:
        ConfigError: the system does not implement ``capability`` (config validation refuses such
            edges, so this means a task asked a system for something its edge does not need).
    """
    settings, make = _maker(integ, alias, capability)
    async with connector(settings.system).client(settings, resolve_secret) as client:
        yield cast(T, make(client, settings))


@overload
def with_capabilities(integ: Integration, a: tuple[str, type[A]], /, *, step: Callable[[A], Awaitable[R]]) -> R: ...
@overload
def with_capabilities(
    integ: Integration, a: tuple[str, type[A]], b: tuple[str, type[B]], /, *, step: Callable[[A, B], Awaitable[R]]
) -> R: ...
@overload
def with_capabilities(
    integ: Integration,
    a: tuple[str, type[A]],
    b: tuple[str, type[B]],
    c: tuple[str, type[C]],
    /,
    *,
    step: Callable[[A, B, C], Awaitable[R]],
) -> R: ...
@overload
def with_capabilities(
    integ: Integration,
    a: tuple[str, type[A]],
    b: tuple[str, type[B]],
    c: tuple[str, type[C]],
    d: tuple[str, type[D]],
    /,
    *,
    step: Callable[[A, B, C, D], Awaitable[R]],
) -> R: ...
def with_capabilities(integ: Integration, *wanted: tuple[str, type], step: Callable[..., Awaitable[R]]) -> R:
    """Run the async ``step`` of a (synchronous) Prefect task over the capabilities it needs, each
    ``(system alias, protocol)`` opened as by :func:`open_capability` and closed after the step.

    One event loop per task run: the clients' budgets and connections live inside it.
    """

    async def opened() -> R:
        async with AsyncExitStack() as stack:
            parts: list[Any] = [
                await stack.enter_async_context(open_capability(integ, alias, cap)) for alias, cap in wanted
            ]
            return await step(*parts)

    return asyncio.run(opened())


@contextmanager
def capability_for_planning(integ: Integration, alias: str, capability: type[T]) -> Iterator[T]:
    """The same capability without a client, for code that sends nothing (batch sizes, entry shapes,
    feed files): no secret is resolved and no connection made. Sending through it is an error."""
    settings, make = _maker(integ, alias, capability)
    yield cast(T, make(None, settings))


def _maker(integ: Integration, alias: str, capability: type) -> tuple[Any, Callable[[Any, Any], Any]]:
    """The settings of ``alias`` and its connector's maker of ``capability``.

    Raises:
        ConfigError: the system does not implement ``capability``.
    """
    settings = integ.systems[alias]
    make = connector(settings.system).capabilities.get(capability)
    if make is None:
        raise ConfigError(
            "config",
            [(f"systems.{alias}", f"the {settings.system} connector does not implement {capability.__name__}")],
        )
    return settings, make


def checked_edge(
    config: Config, name: str, stream: str, source: type, target: type, example: str
) -> tuple[Integration, str, str]:
    """``(integration, source alias, target alias)`` of ``name``'s ``stream`` edge, both sides able.

    Args:
        source, target: the capability each side must implement.
        example: what the message shows as the edge to add, e.g. ``stock: {from: erp, to: shop}``.

    Raises:
        ConfigError: no such edge, or a side lacks its capability (every side named).
    """
    integ = config.integration(name)
    edge = integ.edge(stream)
    where = f"integrations.{name}.flows.{stream}"
    if edge is None:
        article = "an" if stream[:1] in "aeiou" else "a"
        raise ConfigError(str(config.source), [(where, f"this exchange needs {article} {stream} edge, e.g. {example}")])
    problems = [
        (where, f"{alias} ({integ.systems[alias].system}) does not implement {cap.__name__}")
        for alias, cap in ((edge.source, source), (edge.target, target))
        if not connector(integ.systems[alias].system).can(cap)
    ]
    if problems:
        raise ConfigError(str(config.source), problems)
    return integ, edge.source, edge.target


def feed_path_secret(integ: Integration) -> str | None:
    """The secret part of the integration's feed (and picture) URLs, resolved (None: served bare)."""
    return resolve_secret(integ.options.feed.path_secret)
