"""Moving a namespace between stores as JSON: ``harmony config export`` and ``import``.

Secrets are exported masked (``value: null``, ``masked: true``) unless asked for in clear; masked entries are
skipped on import, never stored as the mask. An import is checked whole before anything is written, so a bad
file changes nothing; error messages never repeat the file's values.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from harmony.domain.config_store import ConfigStore, Namespace, Plain, Value, check_key
from harmony.domain.errors import ConfigError
from harmony.domain.secret import Secret


class ExportEntry(BaseModel):
    key: str
    secret: bool = False
    masked: bool = False
    value: Plain = None


class ExportFile(BaseModel):
    namespace: str
    entries: list[ExportEntry]


def export(store: ConfigStore, namespace: Namespace, *, reveal_secrets: bool) -> ExportFile:
    entries: list[ExportEntry] = []
    for e in store.entries(namespace):
        if isinstance(e.value, Secret):
            clear = e.value.reveal() if reveal_secrets else None
            entries.append(ExportEntry(key=e.key, secret=True, masked=not reveal_secrets, value=clear))
        else:
            entries.append(ExportEntry(key=e.key, value=e.value))
    return ExportFile(namespace=str(namespace), entries=entries)


def parse(text: bytes, *, source: str) -> list[tuple[str, Value]]:
    """The entries to write (masked secrets left out), or ``ConfigError`` naming what is wrong."""
    try:
        data = ExportFile.model_validate_json(text)
    except ValidationError as e:
        where = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors(include_input=False))
        raise ConfigError(f"{source}: not an export file ({where}); nothing was imported") from None
    bad = [e.key for e in data.entries if e.secret and not e.masked and not isinstance(e.value, str)]
    if bad:
        raise ConfigError(f"{source}: secret(s) {', '.join(bad)} must be strings; nothing was imported")
    return [
        (check_key(e.key), Secret(e.value) if e.secret and isinstance(e.value, str) else e.value)
        for e in data.entries
        if not e.masked
    ]


def masked_keys(text: bytes) -> list[str]:
    return [e.key for e in ExportFile.model_validate_json(text).entries if e.masked]
