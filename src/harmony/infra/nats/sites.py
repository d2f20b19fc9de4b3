# pyright: reportUnknownMemberType=false
# (nats-py declares `**options`/`**params` without types; every call here passes typed values)
"""JetStream across domains: a site's buckets fed from the hub, and the hub's view of every site.

Two directions, both JetStream *sourcing* (the server copies messages between streams and remembers how far
it got, so a copy interrupted by a cut link resumes where it stopped: every message once, in order):

- hub → site: the hub writes a site's desired state into its outbox stream ``OUT_<site>`` (subjects
  ``hub.out.<site>.<key>``, in the hub's domain, replicated on the hub cluster). The site's KV stream
  ``KV_<bucket>`` sources it through ``$JS.<hub domain>.API`` with a subject transform to ``$KV.<bucket>.<key>``,
  so devices at the site read plain KV from their own domain. A write at the hub while the site is cut off
  waits in the outbox and reaches the site when the link returns.
- site → hub: the hub's ``VIEW_<site>`` stream sources the site's KV streams (state, heartbeats, info) through
  ``$JS.<site domain>.API`` into ``view.<site>.<bucket>.<key>``, keeping the last message per key: the global
  view and what rollouts decide on. Each view message is stamped with the time the *hub* stored it, so the
  newest stamp of a site is when the hub last heard from it.

Not guaranteed: a source resumes a few seconds after the link returns (the server's retry), not at once.

A publish sent on a connection that then drops is sent again on the next one (``JetStreamLink.publish``): the
servers ping every second and close a client that has not answered three pings, which a busy event loop (a
process starting a thousand device agents, say) easily misses; without the resend its publish waited out the
whole timeout unacknowledged although the stream was healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext

from harmony.domain.errors import KeyValueAuthError, KeyValueConflict, KeyValueError, KeyValueUnavailable
from harmony.infra.nats.accounts import CONTROL_DELIVER
from harmony.infra.nats.connection import connect_failure, is_refusal, republished

KV_HISTORY = 5


@dataclass(frozen=True)
class StoredValue:
    key: str
    value: bytes | None  # None: deleted
    stored_at: datetime  # when this stream stored it
    sequence: int


def outbox_stream(site: str) -> str:
    return f"OUT_{site}"


def outbox_subject(site: str, key: str = ">") -> str:
    return f"hub.out.{site}.{key}"


def view_stream(site: str) -> str:
    return f"VIEW_{site}"


def view_subject(site: str, bucket: str, key: str = ">") -> str:
    return f"view.{site}.{bucket}.{key}"


def kv_stream_config(
    bucket: str,
    *,
    history: int = KV_HISTORY,
    sources: Sequence[api.StreamSource] = (),
    republish: str | None = None,
) -> api.StreamConfig:
    """A stream that nats KV clients treat as bucket ``bucket`` (the same settings ``create_key_value`` uses);
    ``republish``: what it stores is also sent to ``<republish>.<key>`` (``NatsKeyValue.watch(live=...)``)."""
    return api.StreamConfig(
        name=f"KV_{bucket}", subjects=[f"$KV.{bucket}.>"], max_msgs_per_subject=history,
        discard=api.DiscardPolicy.NEW, allow_rollup_hdrs=True, deny_delete=True, allow_direct=True,
        storage=api.StorageType.FILE, num_replicas=1, sources=list(sources) or None,
        republish=republished(bucket, republish) if republish is not None else None,
    )  # fmt: skip


class Reconnects:
    """A future per wait that completes when the connection is next re-established (``reconnected_cb``)."""

    def __init__(self) -> None:
        self._next: asyncio.Future[None] | None = None

    def next(self) -> asyncio.Future[None]:
        if self._next is None or self._next.done():
            self._next = asyncio.get_running_loop().create_future()
        return self._next

    async def fired(self) -> None:
        if self._next is not None and not self._next.done():
            self._next.set_result(None)
        self._next = None


class JetStreamLink:
    """One NATS connection (to the hub or to a site's leaf node) and the JetStream calls sites need."""

    def __init__(
        self, nc: Client, timeout: float, *, scope: str | None = None, reconnects: Reconnects | None = None
    ) -> None:
        self.nc = nc
        self.scope = scope
        self.reconnects = reconnects or Reconnects()
        prefix = f"{scope}.$JS.API" if scope else "$JS.API"
        self.js: JetStreamContext = nc.jetstream(timeout=timeout, prefix=prefix)
        self.timeout = timeout

    def scoped(self, tenant: str) -> JetStreamLink:
        """This connection (of the control account) acting on ``tenant``'s account through its imports.

        Every subject gets the ``<tenant>.`` prefix the control account imports it under; consumers deliver to
        ``deliver.control.<id>`` in the tenant, which arrives here as ``<tenant>.deliver.control.<id>``.
        """
        return JetStreamLink(self.nc, self.timeout, scope=tenant, reconnects=self.reconnects)

    def _out(self, subject: str) -> str:
        return f"{self.scope}.{subject}" if self.scope else subject

    @classmethod
    async def connect(
        cls, servers: Sequence[str], *, name: str, timeout: float = 2.0, nkey_seed: Path | None = None,
        credentials: Path | None = None,
    ) -> JetStreamLink:  # fmt: skip
        refusal: list[str] = []
        reconnects = Reconnects()

        async def quiet(e: Exception) -> None:
            if is_refusal(e):
                refusal.append(str(e))

        try:
            nc = await asyncio.wait_for(
                nats.connect(
                    list(servers), name=name, connect_timeout=max(1, round(timeout)), max_reconnect_attempts=-1,
                    reconnect_time_wait=0.2, ping_interval=1, max_outstanding_pings=3, error_cb=quiet,
                    reconnected_cb=reconnects.fired,
                    nkeys_seed=str(nkey_seed) if nkey_seed else None,
                    user_credentials=str(credentials) if credentials else None,
                ),
                timeout * 3,
            )  # fmt: skip
        except (TimeoutError, OSError, nats.errors.Error) as e:
            where = ", ".join(servers)
            if refusal:  # waiting cannot fix credentials: say so apart from an unreachable server
                raise KeyValueAuthError("", f"NATS at {where} refused the connection: {refusal[-1]}") from e
            raise KeyValueUnavailable("", f"cannot connect to NATS at {where}: {connect_failure(e)}") from e
        return cls(nc, timeout, reconnects=reconnects)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            await asyncio.wait_for(self.nc.close(), self.timeout)

    async def ensure_stream(self, config: api.StreamConfig, *, placement_attempts: int = 150) -> None:
        """Create the stream, or update it to ``config`` when it exists.

        A replicated stream on a cluster that is still meeting its peers is refused ("no suitable peers for
        placement"): that is retried for ``placement_attempts`` x 0.2 s.
        """
        assert config.name is not None
        for attempt in range(placement_attempts):
            try:
                try:
                    await self.js.stream_info(config.name)
                except nats.js.errors.NotFoundError:
                    await self.js.add_stream(config)
                else:
                    await self.js.update_stream(config)
                return
            except nats.js.errors.APIError as e:
                if e.err_code == 10005 and attempt + 1 < placement_attempts:  # no suitable peers (yet)
                    await asyncio.sleep(0.2)
                    continue
                raise KeyValueError(config.name, f"JetStream refused stream {config.name}: {e.description or e}") from e
            except (TimeoutError, nats.errors.Error) as e:
                raise KeyValueUnavailable(
                    config.name, f"cannot set up stream {config.name}: {type(e).__name__} {e}"
                ) from e

    # the site's side

    async def ensure_site_buckets(
        self, *, site: str, hub_domain: str, fed: str, local: Sequence[str], republish: str | None = None
    ) -> None:
        """At a site (connected to its leaf node): bucket ``fed`` sourced from the hub's outbox (republished to
        ``republish``, if given), ``local`` plain."""
        source = api.StreamSource(
            name=outbox_stream(site), external=api.ExternalStream(api=f"$JS.{hub_domain}.API"),
            subject_transforms=[api.SubjectTransform(src=outbox_subject(site), dest=f"$KV.{fed}.>")],
        )  # fmt: skip
        await self.ensure_stream(kv_stream_config(fed, sources=[source], republish=republish))
        for bucket in local:
            await self.ensure_stream(kv_stream_config(bucket, history=1))

    # the hub's side

    async def ensure_hub_site(self, *, site: str, domain: str, viewed: Sequence[str], replicas: int) -> None:
        """At the hub: the site's outbox and its view (sourcing ``viewed`` buckets from the site's domain)."""
        await self.ensure_stream(
            api.StreamConfig(
                name=outbox_stream(site), subjects=[outbox_subject(site)], max_msgs_per_subject=64,
                storage=api.StorageType.FILE, num_replicas=replicas, allow_direct=True,
            )
        )  # fmt: skip
        sources = [
            api.StreamSource(
                name=f"KV_{bucket}", external=api.ExternalStream(api=f"$JS.{domain}.API"),
                subject_transforms=[api.SubjectTransform(src=f"$KV.{bucket}.>", dest=view_subject(site, bucket))],
            )
            for bucket in viewed
        ]  # fmt: skip
        await self.ensure_stream(
            api.StreamConfig(
                name=view_stream(site), max_msgs_per_subject=1, storage=api.StorageType.FILE,
                num_replicas=replicas, sources=sources, allow_direct=True,
            )
        )  # fmt: skip

    async def publish(self, subject: str, payload: bytes, *, headers: dict[str, str] | None = None) -> int:
        """A JetStream publish, acknowledged by the stream that stored it; its sequence there.

        If the connection is re-established before the acknowledgement arrives, the message is sent again with
        the same ``Nats-Msg-Id``: the stream stores it once (a resend of a stored message is acknowledged as a
        duplicate with the first sequence, before any ``Nats-Expected-*`` check).
        """
        sent = {**(headers or {}), "Nats-Msg-Id": secrets.token_hex(12)}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            reconnected = self.reconnects.next()
            attempt = asyncio.ensure_future(
                self.js.publish(self._out(subject), payload, headers=sent, timeout=max(0.01, deadline - loop.time()))
            )
            either = cast(set[asyncio.Future[object]], {attempt, reconnected})  # wait reads completion only
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not attempt.done() and loop.time() < deadline:
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError, nats.errors.Error):
                    await attempt
                continue
            try:
                ack = await attempt
            except nats.js.errors.APIError as e:
                if e.err_code == 10071:  # wrong last sequence: a compare-and-set lost
                    raise KeyValueConflict(subject, None) from e
                raise KeyValueError(subject, f"JetStream refused the write: {e.description or e}") from e
            except (TimeoutError, nats.errors.Error) as e:
                raise KeyValueUnavailable(subject, f"no acknowledgement: {type(e).__name__} {e}") from e
            return ack.seq

    async def last_values(self, stream: str, subjects: str) -> dict[str, StoredValue]:
        """The last message of every subject matching ``subjects`` in ``stream``, keyed by subject."""
        return {v.key: v for v in await self._read(stream, subjects, api.DeliverPolicy.LAST_PER_SUBJECT)}

    async def stream_messages(self, stream: str, subject: str) -> list[StoredValue]:
        """Every stored message of ``subject`` in ``stream``, oldest first (for audits: what arrived, in order)."""
        return await self._read(stream, subject, api.DeliverPolicy.ALL)

    async def _read(self, stream: str, subjects: str, policy: api.DeliverPolicy) -> list[StoredValue]:
        """What a short-lived push consumer replays, until the count the server gave at its creation."""
        found: list[StoredValue] = []
        done = asyncio.Event()

        async def on_msg(msg: Msg) -> None:
            if msg.headers and "Status" in msg.headers:
                return
            meta = msg.metadata
            deleted = bool(msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"))
            found.append(
                StoredValue(
                    msg.subject, None if deleted else msg.data, meta.timestamp.astimezone(UTC), meta.sequence.stream
                )
            )
            if meta.num_pending == 0:
                done.set()

        if self.scope:
            token = self.nc.new_inbox().rsplit(".", 1)[-1]
            inbox, local = f"{CONTROL_DELIVER}.{token}", f"{self.scope}.{CONTROL_DELIVER}.{token}"
        else:
            inbox = local = self.nc.new_inbox()
        sub = await self.nc.subscribe(local, cb=on_msg)
        config = api.ConsumerConfig(
            filter_subject=subjects, deliver_subject=inbox, deliver_policy=policy, ack_policy=api.AckPolicy.NONE,
            mem_storage=True, num_replicas=1, inactive_threshold=10.0,
        )  # fmt: skip
        try:
            try:
                info = await self.js.add_consumer(stream, config=config)
            except nats.js.errors.NotFoundError:
                return found
            if info.num_pending or (info.delivered is not None and info.delivered.stream_seq):
                await asyncio.wait_for(done.wait(), self.timeout * 5)
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await self.js.delete_consumer(stream, info.name)
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable(stream, f"reading {subjects} did not finish: {type(e).__name__} {e}") from e
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        return found

    async def viewed_sites(self) -> list[str]:
        """The sites this hub keeps a view of (its ``VIEW_<site>`` streams), sorted."""
        try:
            names = await self.js.streams_info()
        except (TimeoutError, nats.errors.Error) as e:
            raise KeyValueUnavailable("", f"cannot list the hub's streams: {type(e).__name__} {e}") from e
        return sorted(
            i.config.name.removeprefix("VIEW_") for i in names if i.config.name and i.config.name.startswith("VIEW_")
        )

    async def wait_for_jetstream(self, *, attempts: int = 150) -> bool:
        """Whether this connection's JetStream answers within ``attempts`` tries (a new cluster elects first)."""
        for _ in range(attempts):
            try:
                await self.js.account_info()
                return True
            except (TimeoutError, nats.errors.Error):
                await asyncio.sleep(0.1)
        return False

    async def domain_answers(self, domain: str, *, timeout: float = 1.0) -> bool:
        """Whether the JetStream of ``domain`` answers now (the link to it is up)."""
        try:
            await self.nc.request(self._out(f"$JS.{domain}.API.INFO"), b"", timeout=timeout)
        except (TimeoutError, nats.errors.Error):
            return False
        return True
