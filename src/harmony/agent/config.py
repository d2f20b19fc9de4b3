"""The agent's typed configuration: a TOML file, overridden by ``HARMONY_AGENT__<SECTION>__<FIELD>`` variables.

Rejected at load, with the file, the field, the value and what was expected: unknown fields, wrong types,
and timings that cannot keep the split-brain guard (``failover_timeout`` must exceed
``heartbeat_timeout x failure_threshold``, so a cut-off primary has fenced itself before a replica may
promote).

NATS credentials (``nats.user`` with ``nats.password``, or ``nats.token``, or a ``.creds`` file) are
``Secret`` values: masked in reprs, dumps, logs and errors. They come from the TOML, from
``HARMONY_AGENT__NATS__PASSWORD`` / ``__TOKEN``, or, when ``nats.secrets_deployment`` names a deployment,
from Harmony's config system (``harmony secret set nats.password -d <deployment>``; see
``harmony.agent.main.resolve_credentials``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harmony.domain.errors import AgentConfigError, InvalidValueError
from harmony.domain.secret import MASK, Secret
from harmony.infra.programs import PG_BIN

ENV_PREFIX = "HARMONY_AGENT__"
_SERVER_URL = re.compile(r"^(nats|tls|ws|wss)://[^\s/@]+$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_USERINFO = re.compile(r"^([a-z]+://)[^@]*@")
SECRET_FIELDS = frozenset({"password", "token"})  # kept as given from env, masked in errors


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmbeddedNatsConfig(_Section):
    """Run a single ``nats-server`` inside the agent (development and single-site use)."""

    store_dir: Path = Field(description="JetStream storage directory")
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=4222, ge=0, le=65535, description="client port (0: pick a free one)")


class NatsConfig(_Section):
    servers: tuple[str, ...] = Field(
        default=(),
        description="NATS URLs of one cluster (shuffled, as NATS clients do); on a lost connection the agent "
        "reconnects through them with backoff and jitter",
    )
    user: str | None = Field(default=None, description="NATS user name (with a password)")
    password: Secret | None = Field(default=None, description="NATS password of `user`")
    token: Secret | None = Field(default=None, description="NATS authorization token (instead of user/password)")
    credentials_file: Path | None = Field(default=None, description="a NATS .creds file")
    secrets_deployment: str | None = Field(
        default=None,
        description="resolve a missing password/token as nats.password / nats.token of this Harmony deployment",
    )
    bucket: str = Field(default="harmony_failover", pattern=r"^[A-Za-z0-9_-]+$")
    replicas: int = Field(default=1, ge=1, le=5, description="bucket replicas when the agent creates it")
    embedded: EmbeddedNatsConfig | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not self.servers and self.embedded is None:
            raise InvalidValueError("nats.servers", [], "at least one server URL, or a [nats.embedded] section")
        for url in self.servers:
            if not _SERVER_URL.match(url):
                shown = _USERINFO.sub(r"\1" + MASK + "@", url)
                raise InvalidValueError(
                    "nats.servers",
                    shown,
                    "nats://host:port (or tls://, ws://, wss://) without credentials in it: "
                    "put them in nats.user/nats.password or nats.token",
                )
        if self.password is not None and self.user is None:
            raise InvalidValueError("nats.user", None, "a user name when nats.password is set")
        return self


class TimingConfig(_Section):
    """Seconds and counts of the staleness-based failover (ADR-017-3)."""

    heartbeat_interval: float = Field(default=1.0, gt=0, description="how often each agent heartbeats")
    heartbeat_timeout: float = Field(default=1.0, gt=0, description="deadline for one heartbeat (NATS + database)")
    failure_threshold: int = Field(default=2, ge=1, description="failed heartbeats before a primary fences itself")
    success_threshold: int = Field(default=2, ge=1, description="good heartbeats before a fenced primary recovers")
    failover_timeout: float = Field(default=5.0, gt=0, description="primary staleness before a replica promotes")

    @model_validator(mode="after")
    def _split_brain_guard(self) -> Self:
        floor = self.heartbeat_timeout * self.failure_threshold
        if self.failover_timeout <= floor:
            raise InvalidValueError(
                "timing.failover_timeout",
                self.failover_timeout,
                f"more than heartbeat_timeout x failure_threshold = {self.heartbeat_timeout} x "
                f"{self.failure_threshold} = {floor:g}s, so a cut-off primary fences itself before a replica "
                "promotes",
            )
        if self.heartbeat_interval > self.heartbeat_timeout:
            raise InvalidValueError(
                "timing.heartbeat_interval",
                self.heartbeat_interval,
                f"at most heartbeat_timeout ({self.heartbeat_timeout}s): a heartbeat is due before the last expires",
            )
        return self


class PostgresConfig(_Section):
    data_dir: Path
    port: int = Field(ge=1, le=65535)
    listen_address: str = "127.0.0.1"
    socket_dir: Path | None = None
    bin_dir: Path = PG_BIN
    run_as: str = "postgres"
    trusted_networks: tuple[str, ...] = Field(
        default=("127.0.0.1/32",), description="networks whose clients and standbys connect without a password"
    )


class MetricsListenConfig(_Section):
    """Serve the agent's own metrics (``/metrics``, Prometheus format); without this section: no listener."""

    port: int = Field(ge=0, le=65535, description="port of /metrics (0: a free one, logged at start)")
    host: str = Field(default="127.0.0.1", description="address to listen on")


class AgentConfig(_Section):
    node_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="this agent's name; its standby application_name")
    cluster: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="the failover group's name (key prefix)")
    initial_role: Literal["primary", "replica"] = Field(description="the role to start in when no state exists")
    peers: tuple[str, ...] = Field(min_length=1, description="the other agents of the group")
    state_dir: Path = Field(description="status file and decision journal")
    nats: NatsConfig
    timing: TimingConfig = TimingConfig()
    postgres: PostgresConfig
    metrics: MetricsListenConfig | None = None


def load_config(path: Path, env: Mapping[str, str] | None = None) -> AgentConfig:
    """Read ``path`` (TOML), apply ``HARMONY_AGENT__SECTION__FIELD`` overrides, validate."""
    return load_model(path, AgentConfig, read_toml(path), env)


def read_toml(path: Path) -> dict[str, object]:
    """The TOML document in ``path``; ``AgentConfigError`` naming the file when it is unreadable or not TOML."""
    source = str(path)
    try:
        return tomllib.loads(path.read_text())
    except OSError as e:
        raise AgentConfigError(source, "(file)", str(path), f"a readable TOML file ({e.strerror})") from e
    except tomllib.TOMLDecodeError as e:
        raise AgentConfigError(source, "(syntax)", str(e), "valid TOML") from e


def load_model[M: BaseModel](
    path: Path, model: type[M], data: dict[str, object], env: Mapping[str, str] | None = None
) -> M:
    """``data`` (read from ``path``) with the ``HARMONY_AGENT__…`` overrides, validated as ``model``; the first
    problem as an ``AgentConfigError`` naming the file, the field, the value and what was expected."""
    source = str(path)
    for name, value in (os.environ if env is None else env).items():
        if name.startswith(ENV_PREFIX):
            _override(data, name.removeprefix(ENV_PREFIX).lower().split("__"), value)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        ctx_error = err.get("ctx", {}).get("error")
        if isinstance(ctx_error, InvalidValueError):
            raise AgentConfigError(source, ctx_error.field, ctx_error.value, ctx_error.expected) from None
        loc = list(itertools.takewhile(lambda x: "[" not in x, (str(x) for x in err["loc"])))  # not union branches
        field = ".".join(loc) or "(top level)"
        if SECRET_FIELDS.intersection(loc):
            raise AgentConfigError(source, field, MASK, "a string") from None
        raise AgentConfigError(source, field, err.get("input"), err["msg"]) from None  # the cause repeats the input


def _override(data: dict[str, object], path: list[str], value: str) -> None:
    node: dict[str, object] = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return
        node = cast(dict[str, object], child)
    parsed: object = value  # a bare string unless it parses as a TOML value (a secret stays as given)
    if path[-1] not in SECRET_FIELDS:
        with contextlib.suppress(tomllib.TOMLDecodeError):
            parsed = tomllib.loads(f"v = {value}")["v"]
    node[path[-1]] = parsed


def to_toml(config: AgentConfig) -> str:
    """The configuration as a TOML file ``load_config`` reads back (secrets in clear: write it 0600)."""
    return toml_document(config_data(config))


def config_data(config: AgentConfig) -> dict[str, object]:
    """The configuration as plain data, its secrets in clear (for a file written 0600)."""
    data = config.model_dump(mode="json", exclude_none=True)
    for name in ("password", "token"):
        secret: Secret | None = getattr(config.nats, name)
        if secret is not None:
            data["nats"][name] = secret.reveal()
    return data


def toml_document(data: dict[str, object]) -> str:
    """Plain data (strings, numbers, booleans, lists, nested tables) as a TOML document."""
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in top.items()]
    for section, values in data.items():
        if isinstance(values, dict):
            lines += _toml_table(_toml_key(section), cast(dict[str, object], values))
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_table(name: str, values: dict[str, object]) -> list[str]:
    lines = ["", f"[{name}]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for k, v in values.items():
        if isinstance(v, dict):
            lines += _toml_table(f"{name}.{_toml_key(k)}", cast(dict[str, object], v))
    return lines


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in cast(list[object], value)) + "]"
    return json.dumps(str(value))
