# pyright: reportUnknownMemberType=false
# (nats-py declares `**options`/`**params` and its headers without types; every call here passes typed values)
"""One NATS JetStream KV bucket behind ``WatchableKeyValueStore`` (and so ``KeyValueStore``).

Writes are JetStream publishes to ``$KV.<bucket>.<key>``; ``create``/``update``/``publish(expected_revision=)``
send ``Nats-Expected-Last-Subject-Sequence``, and the server's "wrong last sequence" becomes
``KeyValueConflict``. Reads go to the stream leader (no direct gets), so a read never returns a revision
older than one this client already saw acknowledged; timestamps are the stream's own (``Nats-Time-Stamp``).

Why not ``nats.js.kv``: its watch creates an unnamed ordered consumer (``$JS.API.CONSUMER.CREATE.<stream>``),
whose filter the server cannot check against the caller's permissions, so a device allowed to watch its own
keys could watch everyone's. Here a watch creates a *named* consumer through
``$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>``, which the server only accepts when the filter in the
subject is the consumer's filter: a permission on that subject is a permission on the keys. Deliveries go to
the connection's own inbox prefix, so one device cannot subscribe to another's deliveries.

A watch with ``live`` (a bucket whose stream republishes what it stores, ``ensure_bucket(republish=...)``)
keeps its consumer only for the replay and takes later changes from the republished subject, a plain
subscription. Why: nats-server (2.15) finds the next message of a consumer whose filter has a wildcard by
walking the stream from where that consumer last looked, so with thousands of devices each watching
``<device>.>`` on one bucket, each device's change cost the server a walk past every other device's change
(a rollout to N devices: N^2/2 steps; at 3,000 devices 0.5 of the server's 0.85 CPU-s). A subscription's
match costs the same whatever else the stream holds. Changes come in the order the stream stored them; one
seen already (in the replay, or both ways during it) is not handed on again. The consumer is let go only once
a republished change has come in: a stream not republishing yet (a bucket made by an older release, until its
controller connects again) or a subscription the server refuses (a device's permissions from an older
release) leave the watch on its consumer, as before, rather than deaf.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import cast

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from harmony.domain.capabilities.key_value import ChangeHandler, Entry, KeyChange
from harmony.domain.errors import KeyValueConflict, KeyValueError, KeyValueUnavailable
from harmony.infra.nats.connection import MAX_HISTORY, NatsConnection, NatsOptions

KV_OPERATION = "KV-Operation"
WRONG_LAST_SEQUENCE = 10071


class NatsKeyValue:
    """One KV bucket on a ``NatsConnection``; satisfies ``WatchableKeyValueStore``."""

    def __init__(self, connection: NatsConnection, bucket: str, *, owns_connection: bool = False) -> None:
        self.connection = connection
        self.bucket = bucket
        self._js = connection.js
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._timeout = connection.options.timeout
        self._owns_connection = owns_connection

    @classmethod
    async def connect(cls, options: NatsOptions, *, bucket: str, replicas: int = 1) -> NatsKeyValue:
        """A connection of its own and ``bucket`` on it, created (history 64, no TTL, file storage) if missing;
        ``close`` closes the connection."""
        connection = await NatsConnection.connect(options)
        try:
            await connection.ensure_bucket(bucket, history=MAX_HISTORY, replicas=replicas)
        except KeyValueError:
            await connection.close()
            raise
        return cls(connection, bucket, owns_connection=True)

    async def close(self) -> None:
        if self._owns_connection:
            await self.connection.close()

    @property
    def connected_server(self) -> str | None:
        return self.connection.connected_server

    async def stream_leader(self) -> str | None:
        """The NATS server leading the bucket's stream (clustered JetStream), for operators and tests."""
        info = await self._call("", self._js.stream_info(self._stream))
        return info.cluster.leader if info.cluster else None

    async def replicas(self) -> int:
        info = await self._call("", self._js.stream_info(self._stream))
        return int(info.config.num_replicas or 1)

    # -- reads ---------------------------------------------------------------------------------------------

    async def get(self, key: str) -> Entry | None:
        try:
            msg = await self._call(key, self._js.get_msg(self._stream, subject=self._prefix + key))
        except _Missing:
            return None
        if _deleted(msg):
            return None
        return self._entry(key, msg)

    async def history(self, key: str) -> Sequence[Entry]:
        entries: list[Entry] = []
        seq = 0
        while True:
            try:
                msg = await self._call(
                    key, self._js.get_msg(self._stream, seq=seq + 1, subject=self._prefix + key, next=True)
                )
            except _Missing:
                return entries
            assert msg.seq is not None
            seq = msg.seq
            if not _deleted(msg):
                entries.append(self._entry(key, msg))

    async def _get_revision(self, key: str, revision: int) -> Entry:
        msg = await self._call(key, self._js.get_msg(self._stream, seq=revision))
        return self._entry(key, msg)

    # -- writes --------------------------------------------------------------------------------------------

    async def put(self, key: str, value: bytes) -> Entry:
        return await self._get_revision(key, await self.publish(key, value))

    async def create(self, key: str, value: bytes) -> Entry:
        return await self._get_revision(key, await self.publish(key, value, expected_revision=0))

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> Entry:
        return await self._get_revision(key, await self.publish(key, value, expected_revision=expected_revision))

    async def publish(self, key: str, value: bytes, *, expected_revision: int | None = None) -> int:
        headers = None if expected_revision is None else {"Nats-Expected-Last-Subject-Sequence": str(expected_revision)}
        try:
            ack = await self._call(
                key, self._js.publish(self._prefix + key, value, timeout=self._timeout, headers=headers)
            )
        except _WrongLast as e:
            raise KeyValueConflict(key, expected_revision or None) from e
        return ack.seq

    async def put_nowait(self, key: str, value: bytes) -> None:
        """Store ``value`` without waiting for an acknowledgement (heartbeats: the next one supersedes it)."""
        await self.connection.publish(self._prefix + key, value)

    async def delete(self, key: str) -> None:
        await self._call(
            key, self._js.publish(self._prefix + key, b"", timeout=self._timeout, headers={KV_OPERATION: "DEL"})
        )

    # -- watches -------------------------------------------------------------------------------------------

    async def watch(
        self, keys: str, handler: ChangeHandler, *, history: bool = False, live: str | None = None
    ) -> NatsWatch:
        """``handler`` gets the last value of each key matching ``keys`` (every revision with ``history``), then
        each change. ``live``: the subject prefix the bucket's stream republishes to (see the module's doc): the
        consumer only replays, later changes come from ``<live>.<keys>``."""
        prefix_len = len(self._prefix)
        deliver = self.connection.new_inbox()
        watch = NatsWatch(self, self.connection.unique_id())
        seen: dict[str, int] = {}  # with ``live``: the newest revision handed on per key (two ways in)
        heard_live = False  # a republished change came in: the consumer can go once it has replayed
        one_at_a_time = asyncio.Lock()

        async def hand_on(change: KeyChange) -> None:
            if live is None:
                await handler(change)
                return
            async with one_at_a_time:  # the replay's and the subscription's callbacks run side by side
                if seen.get(change.key, 0) >= change.revision:
                    return
                seen[change.key] = change.revision
                await handler(change)

        async def on_msg(msg: Msg) -> None:
            if msg.headers and "Status" in msg.headers:
                return  # idle heartbeat or flow control
            meta = msg.metadata
            deleted = bool(msg.headers and msg.headers.get(KV_OPERATION) in ("DEL", "PURGE"))
            change = KeyChange(
                key=msg.subject[prefix_len:],
                value=None if deleted else msg.data,
                revision=meta.sequence.stream,
                stored_at=meta.timestamp.astimezone(UTC),
                pending=meta.num_pending,
            )
            await hand_on(change)
            if meta.num_pending == 0:
                replayed()

        def replayed() -> None:
            watch.replayed.set()
            if heard_live:
                watch.retire_consumer()

        async def on_republished(msg: Msg) -> None:
            nonlocal heard_live
            headers = msg.headers or {}
            subject, sequence, stamp = (headers.get(h) for h in ("Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp"))
            if subject is None or sequence is None or stamp is None or not subject.startswith(self._prefix):
                return  # not a republished value
            if not heard_live:
                heard_live = True
                if watch.replayed.is_set():  # the subscription carries every later change from now on
                    watch.retire_consumer()
            deleted = headers.get(KV_OPERATION) in ("DEL", "PURGE")
            stored_at = api.Base._parse_utc_iso(stamp)  # pyright: ignore[reportPrivateUsage]  # nats-py's own parser
            change = KeyChange(
                key=subject[prefix_len:], value=None if deleted else msg.data, revision=int(sequence),
                stored_at=stored_at.astimezone(UTC), pending=0,
            )  # fmt: skip
            await hand_on(change)

        if live is not None:  # before the consumer: no change falls between its replay and the subscription
            watch.live = await self.connection.subscribe(f"{live}.{keys}", on_republished)
        watch.subscription = await self.connection.subscribe(deliver, on_msg)
        config = api.ConsumerConfig(
            name=watch.consumer,
            filter_subject=self._prefix + keys,
            deliver_subject=deliver,
            deliver_policy=api.DeliverPolicy.ALL if history else api.DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=30.0,
        )
        try:
            info = await self._js.add_consumer(self._stream, config=config)
        except nats.js.errors.APIError as e:
            await watch.stop()
            raise KeyValueError(keys, f"cannot watch {self.bucket}: {e.description or e}") from e
        except (TimeoutError, nats.errors.Error) as e:
            await watch.stop()
            if isinstance(e, nats.errors.NoRespondersError):
                raise KeyValueError(keys, f"cannot watch {self.bucket}: not permitted or no JetStream") from e
            raise KeyValueUnavailable(keys, f"cannot watch {self.bucket}: {type(e).__name__} {e}") from e
        if info.num_pending == 0 and (info.delivered is None or not info.delivered.stream_seq):
            replayed()
        return watch

    async def snapshot(self, keys: str = ">") -> dict[str, KeyChange]:
        """The last value of every key matching ``keys`` (deleted keys left out), read through one watch."""
        found: dict[str, KeyChange] = {}

        async def collect(change: KeyChange) -> None:
            found[change.key] = change

        watch = await self.watch(keys, collect)
        try:
            await asyncio.wait_for(watch.replayed.wait(), self._timeout * 5)
        except TimeoutError as e:
            raise KeyValueUnavailable(keys, f"reading {self.bucket} did not finish") from e
        finally:
            await watch.stop()
            await watch.delete_consumer()
        return {k: c for k, c in found.items() if c.value is not None}

    # -- translation -----------------------------------------------------------------------------------

    def _entry(self, key: str, msg: api.RawStreamMsg) -> Entry:
        stamp: object = msg.time
        if isinstance(stamp, str):
            stamp = api.Base._parse_utc_iso(stamp)  # pyright: ignore[reportPrivateUsage]  # nats-py's own parser
        if not isinstance(stamp, datetime) or msg.seq is None:
            raise KeyValueError(key, "the store returned an entry without a revision or timestamp")
        return Entry(key=key, value=msg.data or b"", revision=msg.seq, stored_at=stamp.astimezone(UTC))

    async def _call[R](self, key: str, op: Awaitable[R], *, timeout: float | None = None) -> R:
        try:
            return await asyncio.wait_for(op, timeout or self._timeout)
        except nats.js.errors.APIError as e:
            if e.err_code == WRONG_LAST_SEQUENCE:
                raise _WrongLast(key, "wrong last sequence") from e
            if isinstance(e, nats.js.errors.NotFoundError) or e.code == 404:
                raise _Missing(key, "not found") from e
            if isinstance(e, nats.js.errors.ServiceUnavailableError):
                raise KeyValueUnavailable(key, f"JetStream unavailable: {e}") from e
            raise KeyValueError(key, f"JetStream error: {e}") from e
        except nats.errors.NoRespondersError as e:
            raise KeyValueUnavailable(
                key, f"no JetStream stream takes this key (bucket {self.bucket} missing or not permitted)"
            ) from e
        except (TimeoutError, nats.errors.Error, OSError) as e:
            raise KeyValueUnavailable(
                key, f"no answer from NATS within {timeout or self._timeout}s ({type(e).__name__})"
            ) from e


class NatsWatch:
    """A running watch; ``replayed`` is set once the values present at its start were delivered."""

    def __init__(self, bucket: NatsKeyValue, consumer: str) -> None:
        self._bucket = bucket
        self.consumer = consumer
        self.subscription: Subscription | None = None
        self.live: Subscription | None = None
        """The republished subject's subscription (a watch with ``live``)."""
        self.replayed = asyncio.Event()
        self._retiring: asyncio.Task[None] | None = None

    def retire_consumer(self) -> None:
        """Stop listening to the consumer's deliveries: a push consumer nobody listens to is not woken by new
        values, and the server drops it after its inactivity threshold (a device may not delete consumers)."""
        subscription, self.subscription = self.subscription, None
        if subscription is not None:
            self._retiring = asyncio.ensure_future(_unsubscribe(subscription))

    async def delete_consumer(self) -> None:
        """Drop the server-side consumer now instead of after 30 s idle (needs the permission to)."""
        with contextlib.suppress(TimeoutError, nats.errors.Error):  # it expires by itself
            await self._bucket._js.delete_consumer(self._bucket._stream, self.consumer)  # pyright: ignore[reportPrivateUsage]  # its own bucket

    async def stop(self) -> None:
        for subscription in (self.subscription, self.live):
            if subscription is not None:
                await _unsubscribe(subscription)
        self.subscription = self.live = None


async def _unsubscribe(subscription: Subscription) -> None:
    with contextlib.suppress(nats.errors.Error):  # the connection is gone; so is the subscription
        await subscription.unsubscribe()


def _deleted(msg: api.RawStreamMsg) -> bool:
    headers = cast(dict[str, str], msg.headers or {})
    return headers.get(KV_OPERATION) in ("DEL", "PURGE")


class _WrongLast(KeyValueError):
    pass


class _Missing(KeyValueError):
    pass
