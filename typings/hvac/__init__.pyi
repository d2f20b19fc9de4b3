# Minimal local stubs for the part of hvac Harmony uses (hvac ships no type information).
from hvac import exceptions as exceptions

class _KvV2:
    def read_secret_version(
        self,
        path: str,
        version: int | None = None,
        mount_point: str = "secret",
        raise_on_deleted_version: bool | None = None,
    ) -> dict[str, object]: ...
    def create_or_update_secret(
        self, path: str, secret: dict[str, object], cas: int | None = None, mount_point: str = "secret"
    ) -> dict[str, object]: ...
    def list_secrets(self, path: str, mount_point: str = "secret") -> dict[str, object]: ...
    def delete_metadata_and_all_versions(self, path: str, mount_point: str = "secret") -> dict[str, object]: ...

class _Kv:
    v2: _KvV2

class _Secrets:
    kv: _Kv

class _AppRole:
    def login(
        self, role_id: str, secret_id: str | None = None, use_token: bool = True, mount_point: str = "approle"
    ) -> dict[str, object]: ...

class _Auth:
    approle: _AppRole

class Client:
    secrets: _Secrets
    auth: _Auth
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30) -> None: ...
