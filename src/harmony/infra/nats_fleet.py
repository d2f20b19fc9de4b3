# pyright: reportUnknownMemberType=false
# (nats-py declares `**options`/`**params` and its headers without types; every call here passes typed values)
"""NATS for the fleet: KV buckets written and watched under subject permissions, request/reply commands.

Why not ``nats.js.kv``: its watch creates an unnamed ordered consumer (``$JS.API.CONSUMER.CREATE.<stream>``),
whose filter the server cannot check against the caller's permissions, so a device allowed to watch its own
keys could watch everyone's. Here a watch creates a *named* consumer through
``$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>``, which the server only accepts when the filter in the
subject is the consumer's filter: a permission on that subject is a permission on the keys. Writes are plain
JetStream publishes to ``$KV.<bucket>.<key>``; deliveries and acks go to a per-connection inbox prefix, so one
device cannot subscribe to another's deliveries.

Not guaranteed: a watch does not survive a server restart by itself (its consumer lives in memory);
``FleetBus`` calls ``on_reconnect`` and the caller re-creates its watches, which replay the last value per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client, Server
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from harmony.domain.errors import KeyValueAuthError, KeyValueConflict, KeyValueError, KeyValueUnavailable
from harmony.domain.secret import Secret
from harmony.infra.nats import EmbeddedNats, backoff_delay, connect_failure, is_refusal

KV_OPERATION = "KV-Operation"


class NoResponders(KeyValueUnavailable):
    """Nobody subscribes to the subject: for a device command, the device is offline."""


@dataclass(frozen=True)
class BusOptions:
    """One identity on the bus: servers, user/password and the inbox prefix its permissions allow.

    ``password`` is a ``Secret``: revealed only into the NATS client's CONNECT message.
    """

    servers: Sequence[str]
    user: str | None = None
    password: Secret | None = None
    inbox_prefix: str = "_INBOX"
    name: str = "harmony-fleet"
    nkey_seed: Path | None = None  # an NKey seed file instead of user/password (tenants' accounts)
    timeout: float = 2.0
    reconnect_base: float = 0.2
    reconnect_cap: float = 5.0
    ping_interval: int = 10  # seconds; a dead TCP peer is noticed after 2 unanswered pings


@dataclass(frozen=True)
class KvUpdate:
    """One delivered KV entry; ``value`` is ``None`` for a delete or purge."""

    key: str
    value: bytes | None
    revision: int
    stored_at: datetime
    pending: int


type UpdateHandler = Callable[[KvUpdate], Awaitable[None]]


class FleetBus:
    """A NATS connection with the few operations the fleet needs, translated to Harmony errors."""

    def __init__(self, nc: Client, options: BusOptions) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=options.timeout)
        self.options = options
        self.server_errors: list[str] = []  # the last asynchronous errors the server sent (newest last)

    @classmethod
    async def connect(
        cls,
        options: BusOptions,
        *,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
        wait_for_server: bool = False,
    ) -> FleetBus:
        """Connect; reconnects forever with exponential backoff and full jitter (no reconnect stampede).

        Credentials the server refuses raise ``KeyValueAuthError`` once the connect deadline passes, even with
        ``wait_for_server`` (waiting cannot fix them).
        """
        rng = random.Random()

        def pick(servers: list[Server], _info: dict[str, Any]) -> tuple[Server | None, float]:
            chosen = min(servers, key=lambda s: s.reconnects)
            return chosen, backoff_delay(
                chosen.reconnects, base=options.reconnect_base, cap=options.reconnect_cap, rng=rng
            )

        errors: list[str] = []
        refusal: list[str] = []

        async def quiet(e: Exception) -> None:
            errors.append(str(e))  # e.g. a permissions violation: the request itself just goes unanswered
            del errors[:-20]
            if is_refusal(e):
                refusal.append(str(e))

        async def reconnected() -> None:
            if on_reconnect is not None:
                await on_reconnect()

        async def disconnected() -> None:
            if on_disconnect is not None:
                await on_disconnect()

        attempt = 0
        while True:
            try:
                connecting = nats.connect(
                    list(options.servers),
                    name=options.name,
                    user=options.user,
                    password=options.password.reveal() if options.password else None,
                    inbox_prefix=options.inbox_prefix,
                    nkeys_seed=str(options.nkey_seed) if options.nkey_seed else None,
                    connect_timeout=max(1, round(options.timeout)),
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_to_server_handler=pick,
                    ping_interval=options.ping_interval,
                    max_outstanding_pings=2,
                    error_cb=quiet,
                    reconnected_cb=reconnected,
                    disconnected_cb=disconnected,
                )
                # bounded: nats-py retries a refused login forever
                nc = await asyncio.wait_for(connecting, options.timeout * 3)
                bus = cls(nc, options)
                bus.server_errors = errors
                return bus
            except (TimeoutError, OSError, nats.errors.Error) as e:
                if refusal:  # wrong credentials never heal by waiting
                    who = f"user {options.user!r}" if options.user else "no credentials"
                    raise KeyValueAuthError(
                        "",
                        f"NATS at {', '.join(options.servers)} refused {who}: authorization violation "
                        f"(server said: {refusal[-1]})",
                    ) from None
                if not wait_for_server:
                    raise KeyValueUnavailable(
                        "", f"cannot connect to NATS at {', '.join(options.servers)}: {connect_failure(e)}"
                    ) from e
                await asyncio.sleep(
                    backoff_delay(attempt, base=options.reconnect_base, cap=options.reconnect_cap, rng=rng)
                )
                attempt += 1

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            await asyncio.wait_for(self._nc.close(), self.options.timeout)

    async def ensure_bucket(self, bucket: str, *, history: int = 1) -> None:
        """Create the KV bucket ``bucket`` (file storage, no TTL) if it is missing."""
        try:
            await self._js.stream_info(f"KV_{bucket}")
        except nats.js.errors.NotFoundError:
            await self._js.create_key_value(
                api.KeyValueConfig(bucket=bucket, history=history, storage=api.StorageType.FILE)
            )
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(bucket, f"cannot open bucket: {e}") from e

    async def put(self, bucket: str, key: str, value: bytes, *, expected_revision: int | None = None) -> int:
        """Store ``value`` and wait for the server's acknowledgement; the new revision.

        With ``expected_revision`` it is a compare-and-set (0: the key must not exist), raising
        ``KeyValueConflict`` when another writer got there first.
        """
        headers = None if expected_revision is None else {"Nats-Expected-Last-Subject-Sequence": str(expected_revision)}
        reply = await self._request(f"$KV.{bucket}.{key}", value, key=key, headers=headers)
        answer = json.loads(reply.data or b"{}")
        if "error" in answer and answer["error"].get("err_code") == 10071:
            raise KeyValueConflict(key, expected_revision or None)
        if "error" in answer:
            raise KeyValueError(key, f"JetStream refused the write: {answer['error'].get('description', answer)}")
        return int(answer["seq"])

    async def get(self, bucket: str, key: str) -> KvUpdate | None:
        """The last value of ``key`` from the stream leader, or ``None`` (needs the stream-read permission)."""
        try:
            msg = await self._js.get_msg(f"KV_{bucket}", subject=f"$KV.{bucket}.{key}")
        except nats.js.errors.NotFoundError:
            return None
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(key, f"cannot read: {type(e).__name__} {e}") from e
        if (msg.headers and msg.headers.get(KV_OPERATION) in ("DEL", "PURGE")) or msg.seq is None:
            return None
        stamp: object = msg.time
        if isinstance(stamp, str):
            stamp = api.Base._parse_utc_iso(stamp)  # pyright: ignore[reportPrivateUsage]  # nats-py's own parser
        at = stamp.astimezone(UTC) if isinstance(stamp, datetime) else datetime.now(UTC)
        return KvUpdate(key, msg.data or b"", msg.seq, at, 0)

    async def put_nowait(self, bucket: str, key: str, value: bytes) -> None:
        """Store ``value`` without waiting for an acknowledgement (heartbeats: the next one supersedes it)."""
        try:
            await self._nc.publish(f"$KV.{bucket}.{key}", value)
        except nats.errors.Error as e:
            raise KeyValueUnavailable(key, f"cannot publish: {e}") from e

    async def delete(self, bucket: str, key: str) -> None:
        await self._request(f"$KV.{bucket}.{key}", b"", key=key, headers={KV_OPERATION: "DEL"})

    async def flush(self) -> None:
        try:
            await self._nc.flush(timeout=max(1, round(self.options.timeout)))
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable("", f"flush failed: {e}") from e

    async def watch(self, bucket: str, keys: str, handler: UpdateHandler, *, history: bool = False) -> Watch:
        """Deliver the last value of every key matching ``keys`` (then every change) to ``handler``, in order.

        ``history=True`` delivers every stored revision instead of the last one per key.
        """
        stream = f"KV_{bucket}"
        subject = f"$KV.{bucket}.{keys}"
        prefix_len = len(f"$KV.{bucket}.")
        deliver = self._nc.new_inbox()
        watch = Watch(self, stream)

        async def on_msg(msg: Msg) -> None:
            if msg.headers and "Status" in msg.headers:
                return  # idle heartbeat or flow control
            meta = msg.metadata
            deleted = bool(msg.headers and msg.headers.get(KV_OPERATION) in ("DEL", "PURGE"))
            stamp = meta.timestamp.astimezone(UTC)
            update = KvUpdate(
                msg.subject[prefix_len:], None if deleted else msg.data, meta.sequence.stream, stamp, meta.num_pending
            )
            await handler(update)
            if meta.num_pending == 0:
                watch.replayed.set()

        watch.subscription = await self._nc.subscribe(deliver, cb=on_msg)
        config = api.ConsumerConfig(
            name=watch.consumer,
            filter_subject=subject,
            deliver_subject=deliver,
            deliver_policy=api.DeliverPolicy.ALL if history else api.DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=30.0,
        )
        try:
            info = await self._js.add_consumer(stream, config=config)
        except nats.js.errors.APIError as e:
            await watch.stop()
            raise KeyValueError(keys, f"cannot watch {bucket}: {e.description or e}") from e
        except (TimeoutError, nats.errors.Error) as e:
            await watch.stop()
            if isinstance(e, nats.errors.NoRespondersError):
                raise KeyValueError(keys, f"cannot watch {bucket}: not permitted or no JetStream") from e
            raise KeyValueUnavailable(keys, f"cannot watch {bucket}: {type(e).__name__} {e}") from e
        if info.num_pending == 0 and (info.delivered is None or not info.delivered.stream_seq):
            watch.replayed.set()
        return watch

    async def snapshot(self, bucket: str, keys: str = ">") -> dict[str, KvUpdate]:
        """The last value of every key matching ``keys`` (deleted keys left out), read through one watch."""
        found: dict[str, KvUpdate] = {}

        async def collect(update: KvUpdate) -> None:
            found[update.key] = update

        watch = await self.watch(bucket, keys, collect)
        try:
            await asyncio.wait_for(watch.replayed.wait(), self.options.timeout * 5)
        except TimeoutError as e:
            raise KeyValueUnavailable(keys, f"reading {bucket} did not finish") from e
        finally:
            await watch.stop()
            await watch.delete_consumer()
        return {k: u for k, u in found.items() if u.value is not None}

    async def request(self, subject: str, payload: bytes, *, timeout: float) -> bytes:
        """Request/reply; ``NoResponders`` when nobody listens, ``KeyValueUnavailable`` on a timeout."""
        try:
            msg = await self._nc.request(subject, payload, timeout=timeout)
        except nats.errors.NoRespondersError as e:
            raise NoResponders(subject, "no responders") from e
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(subject, f"no reply within {timeout}s ({type(e).__name__})") from e
        return msg.data

    async def serve(self, subject: str, handler: Callable[[str, bytes], Awaitable[bytes]]) -> Serving:
        """Answer requests on ``subject`` (wildcards allowed) with ``handler(subject, payload)``."""

        async def on_msg(msg: Msg) -> None:
            reply = await handler(msg.subject, msg.data)
            if msg.reply:
                with contextlib.suppress(
                    nats.errors.Error
                ):  # the requester gave up or the connection dropped; nothing to tell
                    await msg.respond(reply)

        return Serving(await self._nc.subscribe(subject, cb=on_msg))

    async def _request(self, subject: str, payload: bytes, *, key: str, headers: dict[str, str] | None = None) -> Msg:
        try:
            msg = await self._nc.request(subject, payload, timeout=self.options.timeout, headers=headers)
        except nats.errors.NoRespondersError as e:
            raise KeyValueUnavailable(
                key, "no JetStream stream takes this key (bucket missing or not permitted)"
            ) from e
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(
                key, f"no acknowledgement within {self.options.timeout}s ({type(e).__name__})"
            ) from e
        return msg


class Serving:
    """Requests being answered on a subject; ``stop`` ends it."""

    def __init__(self, subscription: Subscription) -> None:
        self._subscription: Subscription | None = subscription

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection is gone; so is the subscription
                await self._subscription.unsubscribe()
            self._subscription = None


class Watch:
    """A running watch; ``replayed`` is set once the values present at its start were delivered."""

    def __init__(self, bus: FleetBus, stream: str) -> None:
        self._bus = bus
        self._stream = stream
        self.consumer = bus._nc._nuid.next().decode()  # pyright: ignore[reportPrivateUsage]  # nats-py's unique ids
        self.subscription: Subscription | None = None
        self.replayed = asyncio.Event()

    async def delete_consumer(self) -> None:
        """Drop the server-side consumer now instead of after 30 s idle (needs the permission to)."""
        with contextlib.suppress(TimeoutError, nats.errors.Error):  # it expires by itself
            await self._bus._js.delete_consumer(self._stream, self.consumer)  # pyright: ignore[reportPrivateUsage]  # same adapter family

    async def stop(self) -> None:
        if self.subscription is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection is gone; so is the subscription
                await self.subscription.unsubscribe()
            self.subscription = None


@dataclass
class FleetNatsServer(EmbeddedNats):
    """``EmbeddedNats`` with the fleet's generated authorization (``auth_file``) included; ``reload`` rereads it."""

    auth_file: Path | None = None

    def _config(self) -> str:
        text = super()._config()
        if self.auth_file is not None:
            # nats-server resolves an include relative to the configuration file's folder
            relative = os.path.relpath(self.auth_file.resolve(), self.store_dir.resolve().parent)
            text += f'include "{relative}"\n'
        return text

    async def reload(self) -> None:
        """Make the running server reread its configuration (new devices' users), keeping connections."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.2)
