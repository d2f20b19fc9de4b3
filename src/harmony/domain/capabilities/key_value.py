"""``KeyValueStore``: a shared, ordered, versioned key-value store (a bucket), the agents' source of truth.

Consistency contract (the shape of Patroni's ``AbstractDCS``):

- **Compare-and-create**: ``create`` writes a key only if it does not exist. A lost race raises
  ``KeyValueConflict``.
- **Compare-and-set**: ``update`` writes only if the key is still at ``expected_revision``. A lost race
  raises ``KeyValueConflict``. This is the only way leadership changes hands: two writers holding the same
  revision can never both succeed.
- **Unconditional, may be retried**: ``put`` (heartbeats), ``get``, ``history``. They are idempotent from
  the caller's point of view.
- Every write is stamped by the store itself: ``Entry.revision`` is a store-wide, strictly increasing
  sequence and ``Entry.stored_at`` is the store's own clock. Agents compare these stamps with each other,
  never with their local clock.
- Any method may raise ``KeyValueUnavailable`` (also a ``TimeoutError``) when the store cannot be reached
  within the deadline given at construction; the write may or may not have happened.

``WatchableKeyValueStore`` adds what the fleet and the agent roles need on top:

- ``publish``: a write that is acknowledged but not read back (a writer may lack the right to read: a fleet
  device writes its own keys only); with ``expected_revision`` it is the compare-and-set (0: create).
- ``delete``: the key reads as absent afterwards; its history keeps a delete marker.
- ``watch``: the last value of every matching key, then every change, in the store's order, to one handler.
  Not guaranteed: a watch outlives a lost connection; the caller watches again after a reconnect (the
  replay makes that safe).

Not guaranteed: entries never expire (no TTL) but the store keeps only the last ``history`` revisions of
each key; stamps of different store nodes agree only as well as their clocks do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Entry(BaseModel):
    """One stored revision of a key, stamped by the store."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: bytes
    revision: int
    stored_at: datetime


class KeyValueStore(Protocol):
    async def get(self, key: str) -> Entry | None:
        """The latest revision of ``key``, or ``None`` if it was never written (or was deleted)."""
        ...

    async def put(self, key: str, value: bytes) -> Entry:
        """Write unconditionally; returns the stored entry with the store's revision and timestamp."""
        ...

    async def create(self, key: str, value: bytes) -> Entry:
        """Compare-and-create: raises ``KeyValueConflict`` if ``key`` already exists."""
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> Entry:
        """Compare-and-set: raises ``KeyValueConflict`` unless ``key`` is at ``expected_revision``."""
        ...

    async def history(self, key: str) -> Sequence[Entry]:
        """The revisions of ``key`` still kept, oldest first (empty if none)."""
        ...


class KeyChange(BaseModel):
    """One delivered revision of a watched key; ``value`` is ``None`` when the key was deleted.

    ``pending``: how many more revisions the watch knew of when it delivered this one (0: caught up).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    value: bytes | None
    revision: int
    stored_at: datetime
    pending: int = 0


type ChangeHandler = Callable[[KeyChange], Awaitable[None]]


class KeyWatch(Protocol):
    @property
    def replayed(self) -> asyncio.Event:
        """Set once the values present when the watch started were delivered."""
        ...

    async def stop(self) -> None:
        """Deliver nothing more."""
        ...


class WatchableKeyValueStore(KeyValueStore, Protocol):
    async def publish(self, key: str, value: bytes, *, expected_revision: int | None = None) -> int:
        """Write and wait for the store's acknowledgement; the new revision (no read back).

        With ``expected_revision`` a compare-and-set (0: the key must not exist) raising ``KeyValueConflict``.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``: it reads as absent afterwards."""
        ...

    async def watch(self, keys: str, handler: ChangeHandler, *, history: bool = False) -> KeyWatch:
        """Deliver the last value of every key matching ``keys`` (``*``/``>`` wildcards), then every change.

        ``history=True`` delivers every revision still kept instead of the last one per key.
        """
        ...
