"""The integration config: YAML in the directed-edge shape of the architecture, validated once.

Where it comes from, first match wins: ``--config PATH``, ``$SKLADBRIDGE_CONFIG``,
``./skladbridge.yaml``. Secrets never live in the file: a secret field holds ``${ENV_VAR}`` or
``prefect-secret:<block>``; any other string may use ``${ENV_VAR}`` too. Every validation error
names the file, the key path and what is expected, so the fix is obvious.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.console_settings import ConsoleSettings
from hub.options import IntegrationOptions, check_order_mappings
from hub.periods import Periods
from hub.redaction import REDACTED, register_secret
from hub.systems import (
    READ_CAPABILITY,
    STREAMS,
    WRITE_CAPABILITY,
    SystemSettings,
    UnknownSystemError,
    connector,
    known_systems,
    secret_fields,
)

DEFAULT_CONFIG_NAME = "skladbridge.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: keys taken for secrets in the entry of a system no connector declares (the entry is refused anyway;
#: a credential written in it must still not pass as plain text); a known system's secrets are the
#: fields its settings declare as SecretRef (:func:`hub.systems.secret_fields`)
_SECRET_NAMES = frozenset({"token", "password", "api_key", "access_token", "secret"})
#: options that are secrets too (key path under ``integrations.<name>``)
_SECRET_OPTIONS = frozenset(
    {
        ("options", "feed", "path_secret"),
        ("options", "stock", "webhook_secret"),
        ("options", "orders", "webhook_secret"),
        ("options", "two_way", "webhook_secret"),
    }
)
#: database_url schemes the hub store can open (``postgresql+psycopg`` is chosen for ``postgresql``)
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
#: limits checked at load, so that nothing passes the check and fails later (or hangs the loader)
MAX_FILE_BYTES = 1_000_000  # a config of hundreds of integrations is ~100 KB
MAX_ALIASES = 100  # YAML aliases (*name) in one file
MAX_NODES = 100_000  # values once aliases are expanded: an "anchor bomb" of 342 bytes (72 aliases) makes 10^9
MAX_DEPTH = 32  # nested mappings and lists: a real config is 6 deep
MAX_STRING = 4096  # characters of any one value (URLs, names, crons)
MAX_NAME = 64  # an integration's name: it is part of store keys (100 characters) and of URLs
MAX_INTEGRATIONS = 200  # one file (one process checks, serves and schedules them all); more: more files


class ConfigError(Exception):
    """The config cannot be used. ``problems`` are ``(key path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path or '<root>'}: {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


class RuntimeSettings(BaseSettings):
    """Process-level settings from the environment (``SKLADBRIDGE_*``)."""

    model_config = SettingsConfigDict(env_prefix="SKLADBRIDGE_", extra="ignore")
    config: Path | None = Field(default=None, description="path of the integration config")
    database_url: str | None = Field(default=None, description="overrides database_url of the file")


class FlowEdge(BaseModel):
    """One directed edge: this stream flows from one system alias to another."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    source: str = Field(alias="from")
    target: str = Field(alias="to")


class Integration(BaseModel):
    """One integration: named systems, directed flows between them, mappings and options."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    active: bool = True
    systems: dict[str, SystemSettings]
    flows: dict[str, FlowEdge] = Field(default_factory=dict)
    mappings: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    options: IntegrationOptions = IntegrationOptions()
    periods: Periods = Field(default_factory=Periods, description="how often each exchange runs (hub/periods.py)")

    @field_validator("systems", mode="before")
    @classmethod
    def _typed_systems(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        typed: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []  # every alias checked; reported together (see _describe)
        for alias, raw in value.items():
            if not isinstance(raw, Mapping) or "system" not in raw:
                problems.append((str(alias), f"needs a 'system' key, one of {known_systems()}"))
                continue
            try:
                settings = connector(str(raw["system"])).settings
            except UnknownSystemError:
                problems.append((f"{alias}.system", f"unknown system {raw['system']!r}; known: {known_systems()}"))
                continue
            try:
                typed[alias] = settings.model_validate(raw)
            except ValidationError as exc:
                for err in exc.errors():
                    path, message = _describe(err)[0]
                    problems.append((".".join(p for p in (str(alias), path) if p), f"{message} ({raw['system']})"))
        if problems:
            raise PydanticCustomError(
                "system_settings", "{count} problem(s) in systems", {"count": len(problems), "problems": problems}
            )
        return typed

    @field_validator("mappings")
    @classmethod
    def _order_mappings(cls, value: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str | None]]:
        problems = check_order_mappings(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def system(self, alias: str) -> SystemSettings:
        return self.systems[alias]

    def edge(self, stream: str) -> FlowEdge | None:
        return self.flows.get(stream)


class Config(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    database_url: str | None = None
    journal_retention_days: float = Field(default=30, gt=0)
    journal_retention_count: int = Field(default=100_000, gt=0)
    integrations: dict[str, Integration] = Field(default_factory=dict)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings, description="the web console's users")
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("integrations", mode="before")
    @classmethod
    def _names_and_count(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        if len(value) > MAX_INTEGRATIONS:
            raise ValueError(
                f"{len(value)} integrations, more than {MAX_INTEGRATIONS} in one file: split them across config files"
            )
        for name in value:
            if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
                shown = f"{str(name)[:20]!r}" + ("…" if len(str(name)) > 20 else "")
                raise ValueError(
                    f"integration name {shown} must be 1 to {MAX_NAME} characters "
                    "(it is part of the hub store's keys and of URLs)"
                )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            scheme = value.split("://", 1)[0] if "://" in value else ""
            if scheme not in DATABASE_SCHEMES:
                raise ValueError(
                    f"unknown scheme {scheme or value[:20]!r}: expected sqlite:///PATH or "
                    "postgresql://USER:PASSWORD@HOST:PORT/DB"
                )
            if scheme.startswith("postgresql"):
                from hub.store.db import postgres_driver_missing

                missing = postgres_driver_missing()
                if missing:
                    raise ValueError(missing)
        return value

    def integration(self, name: str) -> Integration:
        """Return integration ``name`` or raise a ConfigError listing the known ones."""
        try:
            return self.integrations[name]
        except KeyError:
            known = sorted(self.integrations)
            problem = (f"integrations.{name}", f"no such integration; known: {known}")
            raise ConfigError(str(self.source), [problem]) from None

    def uses_default_database(self) -> bool:
        """Whether the store is the default SQLite file next to the config (no URL set anywhere)."""
        return not (RuntimeSettings().database_url or self.database_url)

    def effective_database_url(self) -> str:
        env = RuntimeSettings().database_url
        if env:
            return env
        if self.database_url:
            return self.database_url
        base = self.source.parent if self.source else Path.cwd()
        return f"sqlite:///{(base / 'skladbridge.db').resolve()}"


def find_config_path(explicit: Path | str | None = None) -> Path:
    """Where the config is read from: the argument, ``$SKLADBRIDGE_CONFIG``, ``./skladbridge.yaml``."""
    if explicit:
        return Path(explicit)
    env = RuntimeSettings().config
    if env:
        return env
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_config(path: Path | str | None = None, *, require_secrets: bool = True) -> Config:
    """Read, interpolate and validate the config.

    Args:
        require_secrets: whether an unset ``${ENV_VAR}`` behind a secret field is an error. Commands
            that never call a system (journal, queue, db) pass False; the value is still checked
            when a client is built (:func:`resolve_secret`).

    Raises:
        ConfigError: unreadable file, bad YAML, unknown key, wrong type, missing env var, an
            unsupported flow edge, or a secret written in the file. Each problem names its key path.
    """
    source = find_config_path(path)
    try:
        if source.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(
                str(source), [("", f"the file is larger than {MAX_FILE_BYTES // 1000} KB: is it the right file?")]
            )
        raw = _load_yaml(source.read_text(encoding="utf-8"), str(source)) or {}
    except FileNotFoundError:
        raise ConfigError(
            str(source),
            [
                (
                    "",
                    "config file not found; pass --config, set SKLADBRIDGE_CONFIG, "
                    "or create ./skladbridge.yaml (see examples/demo.yaml)",
                )
            ],
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(source), [("", f"not valid YAML: {exc}")]) from None
    return parse_config(raw, source=source, require_secrets=require_secrets)


#: libyaml's loader when PyYAML was built with it (the pure-Python one reads 1 000 integrations in 8 s)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLimit(Exception):
    """A limit of :func:`_check_limits` was passed (becomes a ConfigError naming the file)."""


def _check_limits(text: str) -> None:
    """Refuse too many aliases, too many values once aliases are expanded, and too deep a nesting,
    reading the file's events only (nothing is built).

    PyYAML shares an aliased value rather than copying it, but everything that walks the result
    (interpolation, validation, printing) expands it: the 72 aliases of a 342-byte "anchor bomb" are
    10^9 values to walk. A file nested thousands deep ends the recursive composer in a bare
    RecursionError.
    """
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    open_: list[list[Any]] = []  # [anchor, values so far] of each collection being read
    aliases = 0
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _YamlLimit(
                    f"more than {MAX_ALIASES} YAML aliases (*name), at line {line}: "
                    "write the values out or use fewer anchors"
                )
            size = sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                sizes[event.anchor] = size
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            open_.append([event.anchor, 1])
            if len(open_) > MAX_DEPTH:
                raise _YamlLimit(f"nested more than {MAX_DEPTH} levels deep, at line {line}")
            continue
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            anchor, size = open_.pop()
            if anchor:
                sizes[anchor] = size
        else:
            continue
        if open_:
            open_[-1][1] += size
        if size > MAX_NODES or (open_ and open_[-1][1] > MAX_NODES):
            raise _YamlLimit(
                f"more than {MAX_NODES} values once its aliases (*name) are expanded, at line "
                f"{line}: write the values out or use fewer anchors"
            )


def _load_yaml(text: str, label: str) -> Any:
    try:
        _check_limits(text)
    except _YamlLimit as exc:
        raise ConfigError(label, [("", str(exc))]) from None
    return yaml.load(text, Loader=_LOADER)  # a safe loader: libyaml's or PyYAML's own


def parse_config(raw: Any, *, source: Path | str = "<config>", require_secrets: bool = True) -> Config:
    """Validate an already-parsed mapping (see :func:`load_config`).

    Every stage runs, so one pass reports every problem: environment references, the schema
    (every system alias), and the flow edges of each integration that is valid on its own.
    """
    label = str(source)
    if not isinstance(raw, Mapping):
        raise ConfigError(label, [("", "expected a mapping at the top level")])
    problems: list[tuple[str, str]] = []
    interpolated = _interpolate(raw, (), problems, require_secrets)
    config: Config | None = None
    try:
        config = Config.model_validate({**interpolated, "source": Path(source)})
    except ValidationError as exc:
        problems += [problem for err in exc.errors() for problem in _describe(err)]
        problems += _edges_of_raw_integrations(interpolated.get("integrations"))
    else:
        problems += _check_edges(config)
    if problems or config is None:
        raise ConfigError(label, problems)
    return config


def resolve_secret(ref: str | None) -> str | None:
    """Turn a secret reference into its value (at client construction time only).

    Raises:
        ConfigError: the environment variable is unset or the Prefect Secret block is missing.
    """
    if ref is None:
        return None
    match = _ENV_REF.fullmatch(ref)
    if match:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ConfigError("environment", [(match.group(1), "environment variable is not set")])
        return value
    if ref.startswith("prefect-secret:"):
        block = ref.removeprefix("prefect-secret:")
        from prefect.blocks.system import Secret  # imported lazily: only this path needs the API

        try:
            secret: Any = Secret.load(block)  # sync context: returns the block, not a coroutine
            return str(secret.get())
        except ValueError:  # Prefect's "Unable to find block document named ..."
            from prefect.settings import get_current_settings

            settings = get_current_settings()
            where = settings.api.url or f"the local Prefect server of PREFECT_HOME={settings.home}"
            raise ConfigError(
                "prefect",
                [
                    (
                        ref,
                        (
                            f"no Prefect Secret block named {block!r} on {where}; create it there with "
                            f"`prefect block create secret` or in Python: "
                            f"`from prefect.blocks.system import Secret; Secret(value=...).save({block!r})`"
                        ),
                    )
                ],
            ) from None
    raise ConfigError("config", [("", "secret reference must be ${ENV_VAR} or prefect-secret:<block>")])


def redacted_dump(config: Config) -> dict[str, Any]:
    """The validated config as plain data, safe to print (secret references kept, values never)."""
    # serialize_as_any: systems are declared as the base settings class; dump their own fields
    dumped = config.model_dump(mode="json", by_alias=True, exclude_none=True, serialize_as_any=True)
    if config.database_url:
        dumped["database_url"] = redact_url(config.database_url)
    for user in dumped.get("console", {}).get("users", {}).values():
        if "password_hash" in user:  # not the password, but nothing to print either
            user["password_hash"] = REDACTED
    return dumped


def redact_url(url: str) -> str:
    """``url`` with its password masked (``${ENV}`` references are interpolated, so values land here).

    The password is also registered for redaction, so driver errors that quote it are masked too.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    register_secret(parts.password)
    netloc = f"{parts.username or ''}:{REDACTED}@{parts.netloc.rsplit('@', 1)[1]}"
    return urlunsplit(parts._replace(netloc=netloc))


# -- internals ----------------------------------------------------------------------------------


def _interpolate(
    value: Any,
    path: tuple[str, ...],
    problems: list[tuple[str, str]],
    require_secrets: bool = True,
    secrets: frozenset[str] = frozenset(),
) -> Any:
    """``${ENV}`` references filled in, except in secrets (checked to be references, kept as they are).

    ``secrets``: the keys of the mapping ``value`` that hold secrets (a system entry's SecretRef fields).
    """
    if isinstance(value, Mapping):
        inner = (
            _system_secrets(value)
            if len(path) == 4 and path[0] == "integrations" and path[2] == "systems"
            else frozenset()
        )
        return {k: _interpolate(v, (*path, str(k)), problems, require_secrets, inner) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, str(i)), problems, require_secrets) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    dotted = ".".join(path)
    if len(value) > MAX_STRING:  # a value this long is a paste gone wrong; its head is enough to find it
        problems.append((dotted, f"longer than {MAX_STRING} characters ({len(value)}, starts {value[:20]!r})"))
        return value[:MAX_STRING]
    if (path and path[-1] in secrets) or _is_secret_option(path):
        if _ENV_REF.fullmatch(value) or value.startswith("prefect-secret:"):
            env_match = _ENV_REF.fullmatch(value)
            if require_secrets and env_match and env_match.group(1) not in os.environ:
                problems.append((dotted, f"environment variable {env_match.group(1)} is not set"))
            return value
        problems.append((dotted, "secrets must not be written in the file: use ${ENV_VAR} or prefect-secret:<block>"))
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            problems.append((dotted, f"environment variable {name} is not set"))
            return match.group(0)
        return os.environ[name]

    return _ENV_REF.sub(substitute, value)


def _system_secrets(entry: Mapping[str, Any]) -> frozenset[str]:
    """The keys of a system entry that hold secrets: what its connector's settings declare SecretRef."""
    try:
        return secret_fields(connector(str(entry.get("system"))).settings)
    except UnknownSystemError:  # refused by the schema; a credential in it still never passes as text
        return _SECRET_NAMES


def _is_secret_option(path: tuple[str, ...]) -> bool:
    """Whether the value at ``path`` is a secret among the options (a feed's path secret, a webhook's)."""
    if len(path) == 4 and path[:2] == ("console", "users") and path[3] == "password":
        return True  # a console user's password: a reference, never the value
    return len(path) >= 4 and path[0] == "integrations" and path[2:] in _SECRET_OPTIONS


def _describe(err: Any) -> list[tuple[str, str]]:
    """A pydantic error as ``(key path, message)`` problems (a system's errors come several at once)."""
    loc = [str(p) for p in err.get("loc", ()) if not str(p).startswith("function-")]
    path = ".".join(loc)
    kind = err.get("type", "")
    if kind == "system_settings":
        return [(f"{path}.{sub}", msg) for sub, msg in err["ctx"]["problems"]]
    if kind == "extra_forbidden":
        return [(path, "unknown key (check the spelling; see examples/demo.yaml for the shape)")]
    if kind == "missing":
        return [(path, "required key is missing")]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return [(path, msg)]


def _edges_of_raw_integrations(raw: Any) -> list[tuple[str, str]]:
    """Edge problems read from the raw file (the file as a whole did not validate): an integration
    with schema errors still gets its edges checked, as far as its systems and flows can be read, so
    that one pass reports everything."""
    problems: list[tuple[str, str]] = []
    for name, value in raw.items() if isinstance(raw, Mapping) else ():
        if not isinstance(value, Mapping):
            continue
        systems, flows = value.get("systems"), value.get("flows")
        kinds = {
            str(alias): str(spec["system"])
            for alias, spec in _items(systems)
            if isinstance(spec, Mapping) and "system" in spec
        }
        edges = {
            str(stream): (edge.get("from"), edge.get("to"))
            for stream, edge in _items(flows)
            if isinstance(edge, Mapping)
        }
        problems += _integration_edges(str(name), kinds, edges)
    return problems


def _items(value: Any) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, Mapping) else []


def _check_edges(config: Config) -> list[tuple[str, str]]:
    return [
        problem
        for name, integ in config.integrations.items()
        for problem in _integration_edges(
            name,
            {a: s.system for a, s in integ.systems.items()},
            {k: (e.source, e.target) for k, e in integ.flows.items()},
        )
    ]


def _integration_edges(
    name: str, systems: Mapping[str, str], flows: Mapping[str, tuple[Any, Any]]
) -> list[tuple[str, str]]:
    """Problems of an integration's edges, given its aliases' system names and its (from, to) pairs."""
    known = set(known_systems())
    problems: list[tuple[str, str]] = []
    for stream, (source, target) in flows.items():
        where = f"integrations.{name}.flows.{stream}"
        if stream not in STREAMS:
            problems.append((where, f"unknown stream; expected one of {list(STREAMS)}"))
            continue
        for role, alias, verb in (("from", source, "reads"), ("to", target, "writes")):
            if not isinstance(alias, str):
                continue  # missing or not a name: the schema's problem, reported already
            if alias not in systems:
                problems.append(
                    (
                        f"{where}.{role}",
                        f"{alias!r} is not a system alias of this integration; defined: {sorted(systems)}",
                    )
                )
                continue
            system = systems[alias]
            if system not in known:
                continue  # an unknown system is reported by the schema
            needed = (READ_CAPABILITY if verb == "reads" else WRITE_CAPABILITY).get(stream)
            if needed is None or not connector(system).can(needed):
                allowed = connector(system).streams(verb)
                problems.append(
                    (f"{where}.{role}", f"the {system} connector cannot {verb[:-1]} {stream!r} (it {verb}: {allowed})")
                )
        if source == target and isinstance(source, str):
            problems.append((where, "from and to name the same system"))
    return problems
