"""Files through a JetStream object store: an agent release travels this way from the control side to devices.

``put_file`` stores a local file under a name (chunked by nats-py, sha256 digest kept by the server);
``get_file`` writes an object into a local file as it arrives (never the whole object in memory) and nats-py
checks the store's digest at the end. The reader still checks what it got itself (``fleet.agent_release``):
the store's digest proves the transfer, not who made the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import nats.errors
import nats.js.errors
from nats.js import api
from nats.js.object_store import ObjectStore

from harmony.domain.errors import KeyValueError, KeyValueUnavailable
from harmony.infra.nats.connection import NatsConnection


class ObjectMissing(KeyValueError):
    """No object of that name in the store."""


class NatsObjectStore:
    def __init__(self, connection: NatsConnection, bucket: str) -> None:
        self.connection = connection
        self.bucket = bucket

    async def ensure(self) -> None:
        """Create the object store (file storage) if it is missing; the control side does this."""
        js = self.connection.js
        try:
            try:
                await js.object_store(self.bucket)
            except nats.js.errors.NotFoundError:
                config = api.ObjectStoreConfig(storage=api.StorageType.FILE)
                await js.create_object_store(self.bucket, config=config)  # pyright: ignore[reportUnknownMemberType]  # nats-py's **params are untyped
        except (TimeoutError, nats.errors.Error, OSError) as e:
            raise KeyValueUnavailable(self.bucket, f"cannot open object store: {type(e).__name__} {e}") from e

    async def _store(self) -> ObjectStore:
        try:
            return await self.connection.js.object_store(self.bucket)
        except nats.js.errors.NotFoundError as e:
            raise ObjectMissing(self.bucket, "no such object store: nothing was published to it yet") from e
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(self.bucket, f"cannot open object store: {type(e).__name__} {e}") from e

    async def put_file(self, name: str, path: Path) -> int:
        """Store ``path``'s bytes as ``name`` (replacing an object of that name); its size."""
        store = await self._store()
        try:
            with path.open("rb") as f:
                info = await store.put(name, f)
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(self.bucket, f"cannot store {name}: {type(e).__name__} {e}") from e
        return int(info.size or 0)

    async def get_file(self, name: str, path: Path) -> None:
        """Write object ``name`` to ``path`` (created mode 0600; its directory must exist)."""
        store = await self._store()
        try:
            with path.open("wb") as f:
                os.fchmod(f.fileno(), 0o600)
                await store.get(name, writeinto=f)
        except nats.js.errors.ObjectNotFoundError as e:
            raise ObjectMissing(f"{self.bucket}/{name}", "no such object") from e
        except nats.js.errors.DigestMismatchError as e:
            raise KeyValueError(f"{self.bucket}/{name}", "the object's chunks do not match its digest") from e
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(self.bucket, f"cannot read {name}: {type(e).__name__} {e}") from e
