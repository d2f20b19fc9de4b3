"""The ``KeyValueStore`` contract on a real NATS JetStream: compare-and-set, compare-and-create, history,
store stamps, and ``KeyValueUnavailable`` while the server is down."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from harmony.domain.capabilities.key_value import KeyChange
from harmony.domain.errors import KeyValueConflict, KeyValueUnavailable
from harmony.infra.nats import MAX_HISTORY, EmbeddedNats, NatsKeyValue, NatsOptions, NatsWatch


async def connect(server: EmbeddedNats, timeout: float = 1.0) -> NatsKeyValue:
    return await NatsKeyValue.connect(NatsOptions(servers=[server.url], timeout=timeout), bucket="contract")


async def test_compare_and_set_lets_exactly_one_of_many_racing_writers_win(nats_server: EmbeddedNats) -> None:
    stores = [await connect(nats_server) for _ in range(8)]
    try:
        first = await stores[0].create("leader", b"none")

        async def claim(i: int) -> int | None:
            try:
                await stores[i].update("leader", f"node{i}".encode(), expected_revision=first.revision)
            except KeyValueConflict:
                return None
            return i

        winners = [w for w in await asyncio.gather(*(claim(i) for i in range(8))) if w is not None]
        assert len(winners) == 1
        latest = await stores[0].get("leader")
        assert latest is not None
        assert latest.value == f"node{winners[0]}".encode()
    finally:
        for s in stores:
            await s.close()


async def test_create_is_compare_and_create(nats_server: EmbeddedNats) -> None:
    store = await connect(nats_server)
    try:
        await store.create("k", b"1")
        with pytest.raises(KeyValueConflict) as e:
            await store.create("k", b"2")
        assert e.value.expected_revision is None
        assert (await store.get("k")) is not None
        assert (await store.get("missing")) is None
    finally:
        await store.close()


async def test_history_keeps_64_revisions_stamped_by_the_store_in_order(nats_server: EmbeddedNats) -> None:
    store = await connect(nats_server)
    try:
        for i in range(MAX_HISTORY + 6):
            await store.put("hb", str(i).encode())
        history = await store.history("hb")
        assert len(history) == MAX_HISTORY
        assert history[-1].value == str(MAX_HISTORY + 5).encode()
        assert all(a.revision < b.revision and a.stored_at <= b.stored_at for a, b in itertools.pairwise(history))
    finally:
        await store.close()


async def test_unavailable_while_the_server_is_down_then_back(nats_server: EmbeddedNats) -> None:
    store = await connect(nats_server, timeout=0.3)
    try:
        await store.put("k", b"before")
        port = nats_server.port
        await nats_server.kill()
        with pytest.raises(KeyValueUnavailable):
            await store.put("k", b"during")
        back = EmbeddedNats(store_dir=nats_server.store_dir, port=port)
        await back.start()
        try:
            for _ in range(100):
                try:
                    await store.put("k", b"after")
                    break
                except KeyValueUnavailable:
                    await asyncio.sleep(0.1)
            latest = await store.get("k")
            assert latest is not None
            assert latest.value == b"after"
        finally:
            await back.stop()
    finally:
        await store.close()


async def test_a_bucket_takes_a_watch_per_device_past_the_servers_default_of_1000(nats_server: EmbeddedNats) -> None:
    # nats-server 2.15 refuses the 1,001st consumer of a stream that sets no limit of its own ("maximum
    # consumers limit reached"): a fleet of more than 1,000 devices could not watch its desired state
    kv = await connect(nats_server, timeout=5.0)
    try:

        async def ignore(_change: KeyChange) -> None:
            return None

        watches: list[NatsWatch] = []
        for first in range(0, 1100, 100):
            watches += await asyncio.gather(*(kv.watch(f"device-{i}.>", ignore) for i in range(first, first + 100)))
        assert len({w.consumer for w in watches}) == 1100
    finally:
        await kv.close()


async def test_a_live_watch_replays_through_its_consumer_then_follows_the_republished_changes(
    nats_server: EmbeddedNats,
) -> None:
    # what a device agent's watch does: the consumer (a wildcard filter, which nats-server serves by walking
    # the stream) only replays; later changes come from the stream's republish, each once and in order
    kv = await connect(nats_server, timeout=5.0)
    try:
        await kv.connection.ensure_bucket("contract", history=MAX_HISTORY, republish="contract.live")
        await kv.connection.ensure_bucket("contract", history=MAX_HISTORY, republish="contract.live")  # idempotent
        await kv.put("d1.web", b"v1")
        await kv.put("d2.web", b"other device")
        seen: list[tuple[str, bytes | None, int]] = []
        changed = asyncio.Event()

        async def record(change: KeyChange) -> None:
            seen.append((change.key, change.value, change.revision))
            changed.set()

        watch = await kv.watch("d1.>", record, live="contract.live")
        await asyncio.wait_for(watch.replayed.wait(), 5)
        assert seen == [("d1.web", b"v1", 1)]

        changed.clear()
        await kv.put("d1.web", b"v2")
        await kv.put("d2.web", b"not mine")
        await kv.put("d1.db", b"v1")
        await kv.delete("d1.web")
        while len(seen) < 4:
            changed.clear()
            await asyncio.wait_for(changed.wait(), 5)
        await asyncio.sleep(0.1)  # the consumer's delivery subscription is dropped once a republished change came
        info = await kv.connection.js.consumer_info("KV_contract", watch.consumer)
        assert not info.push_bound, "the replay's consumer still has a listener: the server would keep waking it"
        assert [(k, v) for k, v, _ in seen] == [
            ("d1.web", b"v1"),
            ("d1.web", b"v2"),
            ("d1.db", b"v1"),
            ("d1.web", None),
        ]
        revisions = [r for _, _, r in seen]
        assert revisions == sorted(revisions) and len(set(revisions)) == 4
        await watch.stop()
        await kv.put("d1.web", b"after the stop")
        await asyncio.sleep(0.2)
        assert len(seen) == 4
    finally:
        await kv.close()


async def test_a_live_watch_on_a_bucket_that_does_not_republish_keeps_its_consumer(nats_server: EmbeddedNats) -> None:
    # an upgrade: the agent asks for republished changes before the bucket's stream republishes (made by an older
    # release, until its controller connects again); the watch must not go deaf after its replay
    kv = await connect(nats_server, timeout=5.0)
    try:
        await kv.connection.ensure_bucket("older", history=MAX_HISTORY)
        older = kv.connection.bucket("older")
        await older.put("d1.web", b"v1")
        seen: list[bytes | None] = []
        changed = asyncio.Event()

        async def record(change: KeyChange) -> None:
            seen.append(change.value)
            changed.set()

        watch = await older.watch("d1.>", record, live="older.live")
        await asyncio.wait_for(watch.replayed.wait(), 5)
        for value in (b"v2", b"v3"):
            changed.clear()
            await older.put("d1.web", value)
            await asyncio.wait_for(changed.wait(), 5)
        assert seen == [b"v1", b"v2", b"v3"]
        info = await kv.connection.js.consumer_info("KV_older", watch.consumer)
        assert info.push_bound, "the consumer carries the changes while nothing is republished"
        await watch.stop()
    finally:
        await kv.close()
