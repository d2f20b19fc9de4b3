"""``ImageRegistry`` (a site's image registry service) and ``RegistryClient`` (a host that pushes and pulls).

References, as types so that a tag can never reach a host where a digest is required:
- ``RepositoryRef``  ``10.0.0.5:5000/apps/web`` — where an image lives in a registry;
- ``TaggedImage``    ``10.0.0.5:5001/apps/web:1`` — what a build host pushes to (a tag moves);
- ``PinnedImage``    ``10.0.0.5:5000/apps/web@sha256:<64 hex>`` — what hosts and devices run (never moves).

A registry serves two endpoints on one storage: a **pull** endpoint that is read-only (every account may log
in, no account may write) and a **push** endpoint whose only account is the push account. That is how pull
accounts are read-only: the registry's password file has no per-user rights, so rights come from which
endpoint an account can log in to.

Contract of ``ImageRegistry``:
- ``serve_registry`` is idempotent: it writes the configuration, the password files (bcrypt) and a server
  certificate signed by the site CA, and (re)starts what changed; both endpoints answer over TLS on return,
  or it raises ``RegistryError`` and the previous configuration keeps running.
- ``collect_garbage`` removes every manifest that no tag names and that is not in ``keep``, then the blobs
  no manifest references; the pull endpoint keeps serving meanwhile (the push endpoint is stopped).
Contract of ``RegistryClient``: ``pull_image`` fetches by digest with the host's own login for that registry
and trusts only the site CA; failures are ``RegistryError`` subclasses that say which of unreachable,
refused credentials, untrusted certificate or unknown digest it was, and nothing is left half-pulled.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import PurePosixPath
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.capabilities.containers import ImageInfo, ImageRef
from harmony.domain.image_refs import ImageDigest, PinnedImage, RepositoryRef, TaggedImage
from harmony.domain.secret import Secret
from harmony.domain.values import IPAddress, Port, ValidatedStr

_USER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class AccountName(ValidatedStr):
    """A registry account name: a lower-case letter, then letters, digits, ``_`` or ``-`` (32 at most)."""

    _what = "registry account"
    _expected = "a lower-case letter followed by lower-case letters, digits, '_' or '-' (32 characters at most)"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        return value if _USER.match(value) else None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistryAccount(_Frozen):
    user: AccountName
    password: Secret = Field(description="kept only as a bcrypt hash on the registry host")


class RegistrySettings(_Frozen):
    """One site registry: where it listens, where it stores, who may push and who may pull."""

    address: IPAddress = Field(description="the address both endpoints listen on (in the server certificate)")
    hostname: str | None = Field(default=None, description="a DNS name also put in the server certificate")
    pull_port: Port = Field(description="the read-only endpoint: every account may pull, none may write")
    push_port: Port = Field(description="the read-write endpoint: only the push account may log in")
    storage: PurePosixPath = Field(description="directory holding the blobs and manifests")
    pusher: RegistryAccount
    pullers: tuple[RegistryAccount, ...] = ()

    @property
    def pull_endpoint(self) -> str:
        return _endpoint(self.address, self.pull_port)

    @property
    def push_endpoint(self) -> str:
        return _endpoint(self.address, self.push_port)


def _endpoint(address: IPAddress, port: Port) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


class RegistryStatus(_Frozen):
    """What the registry host reports: whether the settings given are the ones applied, and what runs."""

    settings_applied: bool
    changed: tuple[str, ...] = Field(default=(), description="what differs from the applied settings, in words")
    pull_running: bool
    push_running: bool


class StoredManifest(_Frozen):
    repository: str
    digest: ImageDigest
    tags: tuple[str, ...] = ()


class GarbageReport(_Frozen):
    deleted_manifests: tuple[StoredManifest, ...]
    blobs_before: int
    blobs_after: int
    bytes_freed: int


class RegistryLogin(_Frozen):
    """How one host reaches one registry endpoint: its own account, and the CA that signs the registry's cert."""

    endpoint: str = Field(description="host:port of the registry endpoint")
    user: AccountName
    password: Secret
    ca_certificate: str = Field(description="the site CA certificate (PEM); nothing else is trusted")


class ImageRegistry(Protocol):
    async def registry_status(self, settings: RegistrySettings) -> RegistryStatus | None:
        """``None`` when no registry was ever configured here; else how ``settings`` compare and what runs."""
        ...

    async def serve_registry(self, settings: RegistrySettings) -> None:
        """Configure and (re)start both endpoints; they answer over TLS on return."""
        ...

    async def stop_registry(self) -> None: ...

    async def stored_manifests(self) -> Sequence[StoredManifest]:
        """Every manifest in storage, with the tags that name it."""
        ...

    async def collect_garbage(self, *, keep: Collection[ImageDigest]) -> GarbageReport:
        """Delete untagged manifests not in ``keep``, then every blob no manifest references."""
        ...

    def site_ca_certificate(self) -> str:
        """The PEM certificate of the CA that signs the registry's certificate: what clients must trust."""
        ...


class RegistryClient(Protocol):
    async def push_image(self, image: ImageRef, destination: TaggedImage) -> ImageDigest:
        """Push a local image; the manifest digest the registry stored."""
        ...

    async def pull_image(self, image: PinnedImage, *, likely_new: bool = False) -> str:
        """Fetch ``image`` by digest (a NOOP when the store has it); the id of the image in the local store.

        ``likely_new``: the caller expects the store not to have it (a rollout's new version), so the registry
        is asked first and the store only looked at if the registry cannot answer; the result is the same."""
        ...

    async def registry_image_labels(self, image: TaggedImage) -> tuple[ImageDigest, dict[str, str]] | None:
        """The digest and labels the registry holds for ``image``, or ``None`` if it has no such tag."""
        ...

    async def local_image_digests(self, repository: RepositoryRef) -> Sequence[tuple[ImageDigest, ImageInfo]]:
        """Images of ``repository`` in the local store, pulled by digest, newest first."""
        ...
