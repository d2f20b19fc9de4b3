# pyright: reportUnknownMemberType=false
# (nats-py declares `**options`/`**params` and its headers without types; every call here passes typed values)
"""One NATS connection for every agent role and the fleet's control side: connect, reconnect, request/reply.

Connecting shuffles the ``servers`` of one cluster and, once connected, reconnects through them forever with
exponential backoff and full jitter (no reconnect stampede). Credentials the server refuses end the connect
at once with ``KeyValueAuthError`` (nats-py would retry them forever; waiting cannot fix them). Library
errors become ``KeyValueUnavailable`` (timeouts, no responders, a closed or reconnecting connection) or
``KeyValueError``; nothing from ``nats`` crosses this package.

KV buckets on the connection are ``NatsKeyValue`` (``bucket``); see ``bucket.py`` for why watches use named
consumers. Not guaranteed: a watch does not survive a server restart by itself (its consumer lives in
memory): ``on_reconnect`` tells the caller to watch again, which replays the last value per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.errors
from nats.aio.client import DEFAULT_PENDING_SIZE, Client, Server
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.client import JetStreamContext

from harmony.domain.errors import KeyValueAuthError, KeyValueError, KeyValueUnavailable
from harmony.domain.secret import Secret

if TYPE_CHECKING:
    from harmony.infra.nats.bucket import NatsKeyValue

MAX_HISTORY = 64  # the most revisions per key a NATS KV bucket keeps
MAX_WATCHES = 100_000
"""Consumers a bucket allows: one per watch, so one per device on ``fleet_desired`` (plus a reconnected device's
old one until it expires). nats-server 2.15 caps a stream at 1,000 unless the stream says otherwise."""

log = logging.getLogger(__name__)
_BACKOFF = random.Random()  # shared by every connection of the process (a generator's state is 2.5 KiB)


class NoResponders(KeyValueUnavailable):
    """Nobody subscribes to the subject: for a device command, the device is offline."""


@dataclass(frozen=True)
class NatsOptions:
    """One identity on the mesh: its servers (of one cluster), credentials, and how it reconnects.

    ``password`` and ``token`` are ``Secret``: revealed only into the NATS client's CONNECT message.
    ``inbox_prefix``: the reply subjects this identity's permissions allow (a fleet device: ``_INBOX_<id>``).
    ``buffer_while_reconnecting``: queue writes made while reconnecting (the control side: a command given
    during a server restart goes through) instead of failing them at once (an agent: a late heartbeat lies).
    """

    servers: Sequence[str]
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    credentials_file: Path | None = None
    nkey_seed: Path | None = None  # an NKey seed file (a tenant's account user, see ``accounts``)
    inbox_prefix: str = "_INBOX"
    name: str = "harmony"
    timeout: float = 1.0
    reconnect_base: float = 0.1
    reconnect_cap: float = 2.0
    ping_interval: int = 1  # seconds; a dead TCP peer is noticed after 2 unanswered pings
    buffer_while_reconnecting: bool = False


def fleet_options(
    *,
    servers: Sequence[str],
    user: str | None,
    password: Secret | None,
    inbox_prefix: str = "_INBOX",
    name: str = "harmony-fleet",
    timeout: float = 2.0,
    reconnect_base: float = 0.2,
    reconnect_cap: float = 5.0,
    ping_interval: int = 10,
) -> NatsOptions:
    """``NatsOptions`` with the fleet's defaults: slower pings and backoff (thousands of devices), writes
    buffered while reconnecting."""
    return NatsOptions(
        servers=servers, user=user, password=password, inbox_prefix=inbox_prefix, name=name, timeout=timeout,
        reconnect_base=reconnect_base, reconnect_cap=reconnect_cap, ping_interval=ping_interval,
        buffer_while_reconnecting=True,
    )  # fmt: skip


def backoff_delay(reconnects: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2**reconnects)]."""
    return rng.uniform(0, min(cap, base * 2 ** min(reconnects, 16)))


type Callback = Callable[[], Awaitable[None]]


class NatsConnection:
    """A NATS connection translated to Harmony errors: KV buckets, request/reply, subscriptions."""

    def __init__(self, nc: Client, options: NatsOptions) -> None:
        self._nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=options.timeout)
        self.options = options
        self.server_errors: list[str] = []  # the last asynchronous errors the server sent (newest last)

    @classmethod
    async def connect(
        cls,
        options: NatsOptions,
        *,
        on_reconnect: Callback | None = None,
        on_disconnect: Callback | None = None,
        wait_for_server: bool = False,
    ) -> NatsConnection:
        """Connect; with ``wait_for_server``, keep trying (with backoff) until a server answers.

        Raises ``KeyValueAuthError`` at once when the server refuses the credentials, even with
        ``wait_for_server``; ``KeyValueUnavailable`` when no server answers (without it).
        """
        rng = _BACKOFF
        attempt = 0
        while True:
            try:
                return await cls._connect_once(options, rng, on_reconnect=on_reconnect, on_disconnect=on_disconnect)
            except KeyValueUnavailable:
                if not wait_for_server:
                    raise
                await asyncio.sleep(
                    backoff_delay(attempt, base=options.reconnect_base, cap=options.reconnect_cap, rng=rng)
                )
                attempt += 1

    @classmethod
    async def _connect_once(
        cls,
        options: NatsOptions,
        rng: random.Random,
        *,
        on_reconnect: Callback | None,
        on_disconnect: Callback | None,
    ) -> NatsConnection:
        def pick(servers: list[Server], _info: dict[str, Any]) -> tuple[Server | None, float]:
            chosen = min(servers, key=lambda s: s.reconnects)
            return chosen, backoff_delay(
                chosen.reconnects, base=options.reconnect_base, cap=options.reconnect_cap, rng=rng
            )

        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refusal: list[str] = []
        errors: list[str] = []

        async def on_error(e: Exception) -> None:
            # Connection trouble shows up as KeyValueUnavailable on the next call. A permissions violation
            # only leaves its request unanswered: kept for the caller. A refused login ends the connect.
            errors.append(str(e))
            del errors[:-20]
            if is_refusal(e) and not refused.done():
                refusal.append(str(e))
                refused.set_result(None)

        async def reconnected() -> None:
            if on_reconnect is not None:
                await on_reconnect()

        async def disconnected() -> None:
            if on_disconnect is not None:
                await on_disconnect()

        nc = Client()
        connecting = asyncio.ensure_future(
            nc.connect(
                list(options.servers),
                name=options.name,
                user=options.user,
                password=options.password.reveal() if options.password else None,
                token=options.token.reveal() if options.token else None,
                user_credentials=str(options.credentials_file) if options.credentials_file else None,
                nkeys_seed=str(options.nkey_seed) if options.nkey_seed else None,
                inbox_prefix=options.inbox_prefix,
                connect_timeout=max(1, round(options.timeout)),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_to_server_handler=pick,
                ping_interval=options.ping_interval,
                max_outstanding_pings=2,
                # never queue writes while disconnected unless asked: a late heartbeat would lie
                pending_size=DEFAULT_PENDING_SIZE if options.buffer_while_reconnecting else 0,
                error_cb=on_error,
                reconnected_cb=reconnected,
                disconnected_cb=disconnected,
            )
        )
        where = ", ".join(options.servers)
        deadline = options.timeout * 5
        try:
            await asyncio.wait([connecting, refused], timeout=deadline, return_when=asyncio.FIRST_COMPLETED)
            if refused.done() and not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, nats.errors.Error, OSError):
                    await connecting
                with contextlib.suppress(TimeoutError, nats.errors.Error, OSError):
                    await asyncio.wait_for(nc.close(), options.timeout)
                who = (
                    f"user {options.user!r}" if options.user
                    else "the token" if options.token
                    else f"the NKey in {options.nkey_seed}" if options.nkey_seed
                    else "no credentials"
                )  # fmt: skip
                raise KeyValueAuthError(
                    "", f"NATS at {where} refused {who}: authorization violation (server said: {refusal[0]})"
                )
            if not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, nats.errors.Error, OSError):
                    await connecting
                raise TimeoutError(f"no connection within {deadline:g}s")
            connecting.result()
        except (TimeoutError, OSError, nats.errors.Error) as e:
            raise KeyValueUnavailable("", f"cannot connect to NATS at {where}: {connect_failure(e)}") from e
        finally:
            if not refused.done():
                refused.cancel()
        connection = cls(nc, options)
        connection.server_errors = errors
        return connection

    # -- the connection ----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    @property
    def connected_server(self) -> str | None:
        """``host:port`` of the server this connection currently uses (``None`` while reconnecting)."""
        url = self._nc.connected_url
        return url.netloc if url is not None and self._nc.is_connected else None

    def new_inbox(self) -> str:
        return self._nc.new_inbox()

    def unique_id(self) -> str:
        return self._nc._nuid.next().decode()  # pyright: ignore[reportPrivateUsage]  # nats-py's unique ids

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            await asyncio.wait_for(self._nc.close(), self.options.timeout)

    async def flush(self) -> None:
        try:
            await self._nc.flush(timeout=max(1, round(self.options.timeout)))
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable("", f"flush failed: {e}") from e

    # -- buckets -----------------------------------------------------------------------------------------

    async def ensure_bucket(
        self, bucket: str, *, history: int = 1, replicas: int = 1, republish: str | None = None
    ) -> None:
        """Create the KV bucket ``bucket`` (file storage, no TTL, reads from the leader) if it is missing.

        ``republish``: the stream also sends each value it stored to core NATS at ``<republish>.<key>`` (see
        ``NatsKeyValue.watch(live=...)``); an existing bucket without it gets it."""
        # creating a replicated stream takes a raft election: a longer deadline than a read
        admin_timeout = max(5.0, self.options.timeout * 5)
        admin = self._nc.jetstream(timeout=admin_timeout)
        try:
            try:
                config = (await admin.stream_info(f"KV_{bucket}")).config
            except nats.js.errors.NotFoundError:
                await admin.create_key_value(
                    api.KeyValueConfig(
                        bucket=bucket,
                        history=history,
                        replicas=replicas,
                        storage=api.StorageType.FILE,
                        direct=False,
                    )
                )
                config = (await admin.stream_info(f"KV_{bucket}")).config
            if config.max_consumers != MAX_WATCHES:
                config = await _allow_watches(admin, config)
            wanted = republished(bucket, republish) if republish is not None else None
            if wanted is not None and (config.republish is None or config.republish.dest != wanted.dest):
                await admin.update_stream(config.evolve(republish=wanted))
        except nats.js.errors.APIError as e:
            if isinstance(e, nats.js.errors.ServiceUnavailableError):
                raise KeyValueUnavailable(bucket, f"JetStream unavailable: {e}") from e
            raise KeyValueError(bucket, f"cannot open bucket: {e.description or e}") from e
        except (TimeoutError, nats.errors.Error, OSError) as e:
            raise KeyValueUnavailable(bucket, f"cannot open bucket: {type(e).__name__} {e}") from e

    def bucket(self, name: str) -> NatsKeyValue:
        """The KV bucket ``name`` on this connection (``ensure_bucket`` creates it)."""
        from harmony.infra.nats.bucket import NatsKeyValue  # bucket.py builds on this module

        return NatsKeyValue(self, name)

    # -- request/reply -----------------------------------------------------------------------------------

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
                with contextlib.suppress(nats.errors.Error):  # the requester gave up or the connection dropped
                    await msg.respond(reply)

        return Serving(await self.subscribe(subject, on_msg))

    async def subscribe(self, subject: str, on_msg: Callable[[Msg], Awaitable[None]]) -> Subscription:
        try:
            return await self._nc.subscribe(subject, cb=on_msg)
        except nats.errors.Error as e:
            raise KeyValueUnavailable(subject, f"cannot subscribe: {type(e).__name__} {e}") from e

    async def publish(self, subject: str, payload: bytes) -> None:
        """Send without waiting for anything (core NATS)."""
        try:
            await self._nc.publish(subject, payload)
        except nats.errors.Error as e:
            raise KeyValueUnavailable(subject, f"cannot publish: {type(e).__name__} {e}") from e


class Serving:
    """Requests being answered on a subject; ``stop`` ends it."""

    def __init__(self, subscription: Subscription) -> None:
        self._subscription: Subscription | None = subscription

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection is gone; so is the subscription
                await self._subscription.unsubscribe()
            self._subscription = None


async def _allow_watches(admin: JetStreamContext, config: api.StreamConfig) -> api.StreamConfig:
    """Raise the bucket's consumer limit to ``MAX_WATCHES``; the stream's configuration now. A server that cannot
    change it (before 2.12) has no default cap either, so a refusal there changes nothing."""
    try:
        return (await admin.update_stream(config.evolve(max_consumers=MAX_WATCHES))).config
    except nats.js.errors.BadRequestError as e:
        log.info("stream %s keeps its consumer limit %s: %s", config.name, config.max_consumers, e.description or e)
        return config


def republished(bucket: str, prefix: str) -> api.RePublish:
    """Every value stored in ``bucket`` sent on at ``<prefix>.<key>`` (with the stream's sequence and time)."""
    return api.RePublish(src=f"$KV.{bucket}.>", dest=f"{prefix}.>")


def connect_failure(e: BaseException) -> str:
    """Why a connection failed, never empty (a bare ``TimeoutError`` or ``NoServersError`` says nothing)."""
    text = str(e).strip()
    if (
        isinstance(e, TimeoutError | nats.errors.NoServersError)
        or not text
        or text == "nats: no servers available for connection"
    ):
        return f"{text or 'no answer in time'}; is nats-server running there (e.g. `harmony fleet server`)?"
    return text


def is_refusal(e: Exception) -> bool:
    """The server rejected the credentials (``-ERR 'Authorization Violation'`` and its kin)."""
    text = str(e).lower()
    return isinstance(e, nats.errors.AuthorizationError) or "authorization" in text or "authentication" in text
