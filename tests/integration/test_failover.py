"""Real faults on a real PostgreSQL pair with two real agents on a real NATS JetStream.

Every scenario runs the write checker throughout and then checks what a user relies on: every write a node
acknowledged is on the new primary, and no two nodes ever acknowledged writes at overlapping times.
Failover times are measured with the store's own stamps and printed; the tests assert the design floor
(never promoted before ``failover_timeout`` of staleness), not a speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from harmony.agent.records import ClusterState, Stamped
from harmony.infra.nats import EmbeddedNats
from tests.fixtures.failover import FAST, Pair, WriteChecker, postgres_base, remove_base, rows, wait_for

pytestmark = pytest.mark.slow

type MakePair = Callable[..., Awaitable[Pair]]


@pytest.fixture
async def make_pair() -> AsyncIterator[MakePair]:
    made: list[tuple[Pair, Path]] = []

    async def make(nats_urls: list[str], **kwargs: object) -> Pair:
        base = postgres_base()
        pair = Pair(base, nats_urls, **kwargs)  # type: ignore[arg-type]  # test-only pass-through of options
        made.append((pair, base))
        await pair.deploy()
        await pair.start_agents()
        await pair.wait_ready()
        return pair

    try:
        yield make
    finally:
        for pair, base in made:
            await pair.close()
            print(pair.logs())
            remove_base(base)


async def last_serving(pair: Pair, node: str) -> datetime:
    """The store's stamp on ``node``'s newest serving heartbeat still kept."""
    beats = [b.stored_at for b in await pair.beats(node) if b.record.status == "serving"]
    assert beats, f"{node} never heartbeated as serving"
    return beats[-1]


async def promoted_to(pair: Pair, node: str, timeout: float = 30) -> Stamped[ClusterState]:
    async def probe() -> Stamped[ClusterState] | None:
        s = await pair.state()
        return s if s and s.record.primary == node else None

    return await wait_for(probe, timeout, f"{node} promoted")


async def check_writes(pair: Pair, checker: WriteChecker, old: str, new: str) -> None:
    """Every acknowledged write is on the new primary; the two nodes never acknowledged at overlapping times."""
    await asyncio.sleep(0.5)
    await checker.stop()
    on_old, on_new = checker.acked_on(old), checker.acked_on(new)
    assert on_old, "the old primary acknowledged nothing before the fault"
    assert on_new, "the new primary acknowledged nothing after the failover"
    assert max(a.at for a in on_old) < min(a.at for a in on_new), "two nodes accepted writes at the same time"
    present = {int(str(r[0])) for r in await rows(pair.endpoint(new), "SELECT v FROM checker")}
    lost = [a.value for a in checker.acks if a.value not in present]
    assert not lost, f"{len(lost)} acknowledged writes are missing on the new primary: {lost[:10]}"


async def failover_seconds(pair: Pair, old: str, promoted: Stamped[ClusterState]) -> float:
    serving = await last_serving(pair, old)
    seconds = (promoted.stored_at - serving).total_seconds()
    print(f"failover after {seconds:.3f}s of staleness (failover_timeout {FAST.failover_timeout}s)")
    assert seconds > FAST.failover_timeout, "promoted before the primary was stale for failover_timeout"
    return seconds


async def test_kill_9_primary_postgres_promotes_the_replica_and_the_old_primary_rejoins(
    nats_server: EmbeddedNats, make_pair: MakePair
) -> None:
    pair = await make_pair([nats_server.url])
    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await wait_for(lambda: _some(checker, "a"), 10, "writes acknowledged by a")
    os.kill(pair.postmaster_pid("a"), signal.SIGKILL)
    promoted = await promoted_to(pair, "b")
    await failover_seconds(pair, "a", promoted)
    await wait_for(lambda: _some(checker, "b"), 20, "writes acknowledged by b")
    await check_writes(pair, checker, "a", "b")
    # The old primary comes back as b's standby (rewind), and b makes it synchronous again.
    await pair.wait_ready(primary="b", standby="a", timeout=60)


async def _some(checker: WriteChecker, node: str) -> bool:
    return bool(checker.acked_on(node))
