"""The places a setting's value can come from, each read-only from the resolver's point of view.

- ``EnvSource``: ``HARMONY_CONFIG_<SECTION>__<NAME>`` (the key upper-cased, ``.`` → ``__``, ``-`` → ``_``).
  Environment variables belong to one process, so they are not namespaced by deployment.
- ``FileSource``: a local TOML file whose tables are the sections (``[database]`` ``port = 5432``).
  Meant for non-secret settings of one checkout; never commit secrets to it.
- ``StoreSource``: any ``ConfigStore`` (the embedded store, OpenBao), namespaced by deployment and environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from harmony.config.model import Setting
from harmony.domain.config_store import ConfigStore, Namespace, Value
from harmony.domain.errors import ConfigError

ENV_PREFIX = "HARMONY_CONFIG_"


@dataclass(frozen=True)
class Found:
    """A raw value and where it came from (``env HARMONY_CONFIG_DB__PORT``, ``file ./x.toml``, …)."""

    value: Value
    source: str


class Source(Protocol):
    def lookup(self, namespace: Namespace, key: str) -> Found | None:
        """The raw value of ``key``, ``None`` if this source does not have it."""
        ...

    def hint(self, namespace: Namespace, setting: Setting) -> str:
        """How a user would provide ``setting`` through this source."""
        ...


def env_var(key: str) -> str:
    return ENV_PREFIX + key.upper().replace(".", "__").replace("-", "_")


class EnvSource:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def lookup(self, namespace: Namespace, key: str) -> Found | None:
        name = env_var(key)
        value = self._environ.get(name)
        return None if value is None else Found(value, f"env {name}")

    def hint(self, namespace: Namespace, setting: Setting) -> str:
        return f"set {env_var(setting.key)}"


class LocalFileError(ConfigError):
    """The local config file exists but is not valid TOML."""


class FileSource:
    """A TOML file, read once; a missing file is simply an empty source."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, object] | None = None

    def _load(self) -> dict[str, object]:
        if self._data is None:
            try:
                self._data = tomllib.loads(self.path.read_text())
            except FileNotFoundError:
                self._data = {}
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise LocalFileError(f"config file {self.path} is not valid TOML: {e}") from e
        return self._data

    def lookup(self, namespace: Namespace, key: str) -> Found | None:
        node: object = self._load()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]  # pyright: ignore[reportUnknownVariableType]  # TOML tables are dict[str, object]
        if isinstance(node, dict):
            return None
        return Found(cast(Value, node), f"file {self.path}")  # TOML scalars and arrays are JSON-like

    def hint(self, namespace: Namespace, setting: Setting) -> str:
        *section, leaf = setting.key.split(".")
        table = f" under [{'.'.join(section)}]" if section else ""
        return f"`{leaf} = …`{table} in {self.path}"


class StoreSource:
    def __init__(self, store: ConfigStore, *, how_to_set: str) -> None:
        self.store = store
        self._how_to_set = how_to_set

    def lookup(self, namespace: Namespace, key: str) -> Found | None:
        entry = self.store.get(namespace, key)
        return None if entry is None else Found(entry.value, self.store.location)

    def hint(self, namespace: Namespace, setting: Setting) -> str:
        verb = "secret" if setting.secret else "config"
        command = self._how_to_set.format(
            verb=verb, key=setting.key, deployment=namespace.deployment, environment=namespace.environment
        )
        return f"{command} ({self.store.location})"
