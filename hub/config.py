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
)

DEFAULT_CONFIG_NAME = "skladbridge.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_FIELDS = frozenset({"token", "password", "api_key"})
#: options that are secrets too (key path under ``integrations.<name>``)
_SECRET_OPTIONS = frozenset({("options", "feed", "path_secret"), ("options", "stock", "webhook_secret")})
#: database_url schemes the hub store can open (``postgresql+psycopg`` is chosen for ``postgresql``)
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


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
            raise PydanticCustomError("system_settings", "{count} problem(s) in systems",
                                      {"count": len(problems), "problems": problems})
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
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            scheme = value.split("://", 1)[0] if "://" in value else ""
            if scheme not in DATABASE_SCHEMES:
                raise ValueError(f"unknown scheme {scheme or value[:20]!r}: expected sqlite:///PATH or "
                                 "postgresql://USER:PASSWORD@HOST:PORT/DB")
        return value

    def integration(self, name: str) -> Integration:
        """Return integration ``name`` or raise a ConfigError listing the known ones."""
        try:
            return self.integrations[name]
        except KeyError:
            known = sorted(self.integrations)
            problem = (f"integrations.{name}", f"no such integration; known: {known}")
            raise ConfigError(str(self.source), [problem]) from None

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
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(
            str(source), [("", "config file not found; pass --config, set SKLADBRIDGE_CONFIG, "
                           "or create ./skladbridge.yaml (see examples/demo.yaml)")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(source), [("", f"not valid YAML: {exc}")]) from None
    return parse_config(raw, source=source, require_secrets=require_secrets)


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
        problems += _edges_of_valid_integrations(interpolated.get("integrations"))
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
            raise ConfigError("prefect", [(ref, (
                f"no Prefect Secret block named {block!r} on {where}; create it there with "
                f"`prefect block create secret` or in Python: "
                f"`from prefect.blocks.system import Secret; Secret(value=...).save({block!r})`"))]) from None
    raise ConfigError("config", [("", "secret reference must be ${ENV_VAR} or prefect-secret:<block>")])


def redacted_dump(config: Config) -> dict[str, Any]:
    """The validated config as plain data, safe to print (secret references kept, values never)."""
    # serialize_as_any: systems are declared as the base settings class; dump their own fields
    dumped = config.model_dump(mode="json", by_alias=True, exclude_none=True, serialize_as_any=True)
    if config.database_url:
        dumped["database_url"] = redact_url(config.database_url)
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
    value: Any, path: tuple[str, ...], problems: list[tuple[str, str]], require_secrets: bool = True
) -> Any:
    if isinstance(value, Mapping):
        return {k: _interpolate(v, (*path, str(k)), problems, require_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, str(i)), problems, require_secrets) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    dotted = ".".join(path)
    if _is_secret(path):
        if _ENV_REF.fullmatch(value) or value.startswith("prefect-secret:"):
            env_match = _ENV_REF.fullmatch(value)
            if require_secrets and env_match and env_match.group(1) not in os.environ:
                problems.append((dotted, f"environment variable {env_match.group(1)} is not set"))
            return value
        problems.append(
            (dotted, "secrets must not be written in the file: use ${ENV_VAR} or prefect-secret:<block>")
        )
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            problems.append((dotted, f"environment variable {name} is not set"))
            return match.group(0)
        return os.environ[name]

    return _ENV_REF.sub(substitute, value)


def _is_secret(path: tuple[str, ...]) -> bool:
    """Whether the value at ``path`` is a secret: a system's credential or a feed's path secret."""
    if len(path) < 4 or path[0] != "integrations":
        return False
    return (path[2] == "systems" and path[-1] in _SECRET_FIELDS) or path[2:] in _SECRET_OPTIONS


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


def _edges_of_valid_integrations(raw: Any) -> list[tuple[str, str]]:
    """Edge problems of the integrations that validate on their own (the file as a whole did not)."""
    problems: list[tuple[str, str]] = []
    for name, value in (raw.items() if isinstance(raw, Mapping) else ()):
        try:
            integ = Integration.model_validate(value)
        except ValidationError:
            continue  # its schema problems are reported already
        problems += _integration_edges(str(name), integ)
    return problems


def _check_edges(config: Config) -> list[tuple[str, str]]:
    return [problem for name, integ in config.integrations.items() for problem in _integration_edges(name, integ)]


def _integration_edges(name: str, integ: Integration) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for stream, edge in integ.flows.items():
        where = f"integrations.{name}.flows.{stream}"
        if stream not in STREAMS:
            problems.append((where, f"unknown stream; expected one of {list(STREAMS)}"))
            continue
        for role, alias, verb in (("from", edge.source, "reads"), ("to", edge.target, "writes")):
            if alias not in integ.systems:
                problems.append((f"{where}.{role}", f"{alias!r} is not a system alias of this "
                                 f"integration; defined: {sorted(integ.systems)}"))
                continue
            system = integ.systems[alias].system
            needed = (READ_CAPABILITY if verb == "reads" else WRITE_CAPABILITY).get(stream)
            if needed is None or not connector(system).can(needed):
                allowed = connector(system).streams(verb)
                problems.append((f"{where}.{role}", f"the {system} connector cannot {verb[:-1]} "
                                 f"{stream!r} (it {verb}: {allowed})"))
        if edge.source == edge.target:
            problems.append((where, "from and to name the same system"))
    return problems
