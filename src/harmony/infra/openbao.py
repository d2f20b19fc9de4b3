"""The team store: OpenBao (or HashiCorp Vault) kv-v2 through ``hvac``, with token or AppRole auth.

Each setting is one kv-v2 secret at ``<mount>/<prefix>/<deployment>/<environment>/<key>`` holding
``{"value": …, "secret": true|false}``, so check-and-set works per setting: ``put(expected_version=n)``
maps onto kv-v2's ``cas`` (``0``: create only). Library errors are translated here, at the boundary:
connection failures → ``StoreUnreachableError``, HTTP 503 / not initialised → ``StoreSealedError``,
401/403 → ``StoreAuthError``, a ``cas`` mismatch → ``StoreConflictError``; only a bare 404 means "absent"
(a 404 naming a missing route, i.e. no such mount, is a ``ConfigStoreError``).

Not done here: TLS settings beyond what the URL implies, token renewal (a fresh client per process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import hvac
import hvac.exceptions
import requests

from harmony.domain.config_store import Entry, Namespace, Plain, Value, check_key
from harmony.domain.errors import (
    ConfigStoreError,
    CorruptEntryError,
    StoreAuthError,
    StoreConflictError,
    StoreSealedError,
    StoreUnreachableError,
)
from harmony.domain.secret import Secret
from harmony.domain.values import url_without_credentials


@dataclass(frozen=True)
class TokenAuth:
    token: Secret


@dataclass(frozen=True)
class AppRoleAuth:
    role_id: str
    secret_id: Secret
    mount: str = "approle"


class OpenBaoStore:
    """A ``ConfigStore`` on OpenBao/Vault kv-v2."""

    def __init__(
        self,
        url: str,
        *,
        auth: TokenAuth | AppRoleAuth,
        mount: str = "secret",
        prefix: str = "harmony",
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.auth = auth
        self.mount = mount
        self.prefix = prefix.strip("/")
        self.timeout = timeout
        self._client: hvac.Client | None = None

    @property
    def location(self) -> str:
        return f"OpenBao {url_without_credentials(self.url)} ({self.mount}/{self.prefix})"

    def path_of(self, namespace: Namespace, key: str = "") -> str:
        base = f"{self.prefix}/{namespace.deployment}/{namespace.environment}"
        return f"{base}/{key}" if key else base

    def get(self, namespace: Namespace, key: str) -> Entry | None:
        path = self.path_of(namespace, key)
        try:
            response = self._call(
                lambda c: c.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=self.mount, raise_on_deleted_version=True
                )
            )
        except hvac.exceptions.InvalidPath:
            return None
        return self._decode(key, path, response)

    def put(self, namespace: Namespace, key: str, value: Value, *, expected_version: int | None = None) -> int:
        check_key(key)
        path = self.path_of(namespace, key)
        data: dict[str, object] = (
            {"value": value.reveal(), "secret": True}
            if isinstance(value, Secret)
            else {"value": value, "secret": False}
        )
        try:
            response = self._call(
                lambda c: c.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=data, cas=expected_version, mount_point=self.mount
                )
            )
        except hvac.exceptions.InvalidRequest as e:
            if expected_version is not None and "check-and-set" in str(e):
                raise StoreConflictError(self.location, key, expected_version) from None
            raise ConfigStoreError(self.location, f"writing {path} was refused: {_first_line(e)}") from None
        version = _dig(response, "data", "version")
        if not isinstance(version, int):
            raise ConfigStoreError(self.location, f"writing {path} returned no version")
        return version

    def delete(self, namespace: Namespace, key: str) -> bool:
        if self.get(namespace, key) is None:
            return False
        path = self.path_of(namespace, key)
        self._call(lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=self.mount))
        return True

    def entries(self, namespace: Namespace) -> list[Entry]:
        base = self.path_of(namespace)
        try:
            response = self._call(lambda c: c.secrets.kv.v2.list_secrets(path=base, mount_point=self.mount))
        except hvac.exceptions.InvalidPath:
            return []
        keys = _dig(response, "data", "keys")
        listed = cast(list[object], keys) if isinstance(keys, list) else []
        names = sorted(k for k in listed if isinstance(k, str) and not k.endswith("/"))
        found = [self.get(namespace, k) for k in names]
        return [e for e in found if e is not None]

    def _decode(self, key: str, path: str, response: dict[str, object]) -> Entry:
        inner = _dig(response, "data", "data")
        version = _dig(response, "data", "metadata", "version")
        if not isinstance(inner, dict) or "value" not in inner or not isinstance(version, int):
            raise CorruptEntryError(self.location, path, "not a Harmony entry ({value, secret})")
        value: Plain = inner["value"]  # pyright: ignore[reportUnknownVariableType]  # JSON from the server
        if cast(dict[str, object], inner).get("secret") is True:
            if not isinstance(value, str):
                raise CorruptEntryError(self.location, path, "a secret whose value is not a string")
            return Entry(key=key, value=Secret(value), version=version)
        return Entry(key=key, value=value, version=version)  # pyright: ignore[reportUnknownArgumentType]  # JSON

    def _call(self, op: Callable[[hvac.Client], dict[str, object]]) -> dict[str, object]:
        """Run ``op`` on a logged-in client, translating transport and server errors (404 is re-raised)."""
        try:
            return op(self._logged_in())
        except hvac.exceptions.InvalidPath as e:
            if e.errors:  # a 404 with a reason is a missing route (mount), not a missing key
                raise ConfigStoreError(
                    self.location, f"no kv-v2 engine is mounted at {self.mount}/: {_first_line(e)}"
                ) from None
            raise
        except hvac.exceptions.InvalidRequest:
            raise
        except Exception as e:
            raise self._translate(e) from None

    def _logged_in(self) -> hvac.Client:
        if self._client is not None:
            return self._client
        if isinstance(self.auth, TokenAuth):
            client = hvac.Client(url=self.url, token=self.auth.token.reveal(), timeout=self.timeout)
        else:
            client = hvac.Client(url=self.url, timeout=self.timeout)
            try:
                client.auth.approle.login(
                    role_id=self.auth.role_id, secret_id=self.auth.secret_id.reveal(), mount_point=self.auth.mount
                )
            except hvac.exceptions.InvalidRequest as e:
                raise StoreAuthError(self.location, f"AppRole login refused: {_first_line(e)}") from None
            except Exception as e:
                raise self._translate(e) from None
        self._client = client
        return client

    def _translate(self, e: Exception) -> ConfigStoreError:
        if isinstance(e, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return StoreUnreachableError(self.location, f"store unreachable: {type(e).__name__}")
        if isinstance(e, hvac.exceptions.VaultNotInitialized):
            return StoreSealedError(self.location, "the server is not initialized; `bao operator init` it first")
        if isinstance(e, hvac.exceptions.VaultDown):
            return StoreSealedError(self.location, "the server is sealed; unseal it (`bao operator unseal`) and retry")
        if isinstance(e, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
            return StoreAuthError(self.location, f"permission denied: {_first_line(e)}")
        if isinstance(e, ConfigStoreError):
            return e
        return ConfigStoreError(self.location, f"unexpected {type(e).__name__}: {_first_line(e)}")


def _dig(tree: object, *keys: str) -> object:
    """``tree[k1][k2]…`` through JSON objects, ``None`` where a level is missing or not an object."""
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]  # JSON
    return tree  # pyright: ignore[reportUnknownVariableType]  # JSON


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
