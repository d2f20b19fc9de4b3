"""``ConfigStore``: where setting values live (the embedded store, OpenBao/Vault), behind one Protocol.

The port and its vocabulary (``Namespace``, setting keys, ``Entry``) live in the domain so that the
adapters in ``harmony.infra`` implement it without importing ``harmony.config``.


Consistency contract, in the manner of Patroni's ``AbstractDCS``:
- ``get`` returns ``None`` only when the key is absent. A store that cannot be reached raises
  ``StoreUnreachableError``, a sealed one ``StoreSealedError``, refused credentials ``StoreAuthError``; an
  entry that cannot be decoded raises ``CorruptEntryError`` and is left untouched. None of these is ever
  reported as "absent".
- ``put`` is compare-and-set when ``expected_version`` is given: ``0`` creates only if absent, ``n`` replaces
  only version ``n``; a lost race raises ``StoreConflictError`` and writes nothing. Without it, last writer wins.
- ``delete`` removes every version; deleting an absent key is not an error.
- Secret values come back as ``Secret``; a store keeps them encrypted (embedded) or access-controlled (team).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from harmony.domain.errors import InvalidValueError
from harmony.domain.secret import Secret

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


@dataclass(frozen=True)
class Namespace:
    """Where a deployment's values live: one namespace per deployment and environment."""

    deployment: str
    environment: str = "default"

    def __post_init__(self) -> None:
        for field, value in (("deployment", self.deployment), ("environment", self.environment)):
            if not _NAME.match(value):
                raise InvalidValueError(field, value, "1-63 of a-z, 0-9, '_' and '-', starting with a letter or digit")

    def __str__(self) -> str:
        return f"{self.deployment}/{self.environment}"


def check_key(key: str) -> str:
    """A dotted setting key (``database.password``), or ``InvalidValueError``."""
    if not _KEY.match(key):
        raise InvalidValueError("key", key, "dot-separated names of a-z, 0-9, '_' and '-' (database.password)")
    return key


type Plain = str | int | float | bool | list[Plain] | dict[str, Plain] | None
type Value = Secret | Plain


@dataclass(frozen=True)
class Entry:
    key: str
    value: Value
    version: int

    @property
    def secret(self) -> bool:
        return isinstance(self.value, Secret)


class ConfigStore(Protocol):
    @property
    def location(self) -> str:
        """What to call this store in messages: ``embedded store /path`` or ``OpenBao http://…``."""
        ...

    def get(self, namespace: Namespace, key: str) -> Entry | None: ...

    def put(self, namespace: Namespace, key: str, value: Value, *, expected_version: int | None = None) -> int:
        """Write ``value`` (a ``Secret`` is stored as a secret); returns the new version."""
        ...

    def delete(self, namespace: Namespace, key: str) -> bool:
        """Remove ``key``; ``False`` when it was absent."""
        ...

    def entries(self, namespace: Namespace) -> list[Entry]:
        """Every entry of ``namespace``, sorted by key."""
        ...
