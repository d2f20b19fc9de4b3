"""Which keys a deployment's config model declares ``Secret``, remembered so that the CLI can tell.

``harmony config set`` takes its value on the command line (shell history, ``ps``), so it must refuse a key
that the deployment's model types ``Secret`` even before any value is stored. The CLI does not import the
deployment (that would resolve its settings, and may prompt), so every ``load_config`` of a deployment writes
the list of its secret keys to ``<directory>/<deployment>.json`` (0600, replaced only when it changed), and
``config set`` reads it back.

Not guaranteed: a deployment never loaded on this machine (or loaded with another ``HARMONY_CONFIG_STORE``)
has no record, so ``config set`` cannot know its model; a record is as recent as the last load. Writing the
record is best effort: a directory that cannot be written never fails a run.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from harmony.config.model import settings_of
from harmony.domain.config_store import Namespace
from harmony.infra.state_files import write_atomic


def secret_keys_of(model: type[BaseModel]) -> list[str]:
    """The dotted keys of ``model``'s ``Secret`` settings, in declaration order."""
    return [s.key for s in settings_of(model) if s.secret]


def _record(directory: Path, ns: Namespace) -> Path:
    return directory / f"{ns.deployment}.json"  # a checked name: no '/' or '..'


def remember(directory: Path, ns: Namespace, model: type[BaseModel]) -> None:
    """Record ``model``'s secret keys for ``ns``'s deployment (best effort: an OSError is ignored)."""
    text = json.dumps({"model": model.__qualname__, "secret_keys": secret_keys_of(model)}, indent=2) + "\n"
    path = _record(directory, ns)
    try:
        if path.is_file() and path.read_text() == text:
            return
        write_atomic(path, text, mode=0o600, directory_mode=0o700)
    except OSError:
        return


def declared_secret(directory: Path, ns: Namespace, key: str) -> str | None:
    """The name of the deployment's config model when it declares ``key`` a ``Secret``, else ``None``."""
    try:
        loaded: object = json.loads(_record(directory, ns).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict):
        return None
    record: dict[str, object] = loaded  # pyright: ignore[reportUnknownVariableType]  # JSON object
    keys = record.get("secret_keys")
    if isinstance(keys, list) and key in keys:
        return str(record.get("model", "its config model"))
    return None
