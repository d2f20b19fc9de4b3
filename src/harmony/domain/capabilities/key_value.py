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

Not guaranteed: entries never expire (no TTL) but the store keeps only the last ``history`` revisions of
each key; stamps of different store nodes agree only as well as their clocks do.
"""

from __future__ import annotations

from collections.abc import Sequence
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
