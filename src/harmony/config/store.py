"""``ConfigStore``: where setting values live (the embedded store, OpenBao/Vault), behind one Protocol.

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

from dataclasses import dataclass
from typing import Protocol

from harmony.config.model import Namespace
from harmony.config.secret import Secret

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
