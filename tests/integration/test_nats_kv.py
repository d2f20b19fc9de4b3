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
