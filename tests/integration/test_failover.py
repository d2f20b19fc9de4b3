"""Real faults on a real PostgreSQL pair with two real agents on a real NATS JetStream.

Every scenario runs the write checker throughout and then checks what a user relies on: every write a node
acknowledged is on the new primary, and no two nodes ever acknowledged writes at overlapping times.
Failover times are measured with the store's own stamps and printed; the tests assert the design floor
(never promoted before ``failover_timeout`` of staleness), not a speed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from harmony.agent.config import TimingConfig
from harmony.agent.records import ClusterState, Stamped
from harmony.infra.nats import EmbeddedNats
from tests.fixtures.failover import FAST, Pair, WriteChecker, postgres_base, remove_base, rows, wait_for
from tests.fixtures.failover_netns import Netns
from tests.fixtures.write_log import overlaps

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
    check_server_logs(pair, checker, old, new)


def check_server_logs(pair: Pair, checker: WriteChecker, old: str, new: str) -> None:
    """Both servers' own logs of committed writes: the old primary's window ends before the new one's begins."""
    windows = pair.write_windows()
    print("write windows from the server logs:", windows)
    assert [w.node for w in windows] == [old, new], f"expected writes on {old} then {new}: {windows}"
    for w in windows:
        assert w.writes >= len(checker.acked_on(w.node)), f"{w.node}'s log misses writes it acknowledged"
    assert not overlaps(windows), f"two servers committed writes at overlapping times: {overlaps(windows)}"
    print(f"gap between the last write on {old} and the first on {new}: {windows[1].first - windows[0].last:.3f}s")


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
    rejoined = [str(d["reason"]) for d in _decisions(pair.base, "a") if d["action"] == "rejoined"]
    assert rejoined == ["rewound with pg_rewind"], rejoined


async def test_old_primary_that_lost_its_wal_is_recloned_and_rejoins_as_the_synchronous_standby(
    nats_server: EmbeddedNats, make_pair: MakePair
) -> None:
    pair = await make_pair([nats_server.url])
    postmaster = pair.postmaster_pid("a")
    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await wait_for(lambda: _some(checker, "a"), 10, "writes acknowledged by a")
    await pair.agents["a"].kill()
    await wait_for(lambda: _gone(postmaster), 10, "a's postgres to die with its agent")
    await promoted_to(pair, "b")
    await wait_for(lambda: _some(checker, "b"), 20, "writes acknowledged by b")
    # A real fault pg_rewind cannot get past: a's (uncleanly stopped) data directory lost its WAL, so neither
    # its crash recovery nor the search for the divergence point can run.
    wal = pair.base / "a" / "data" / "pg_wal"
    segments = [p for p in wal.iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name)]
    assert segments
    for p in segments:
        p.unlink()
    await pair.agents["a"].start()
    await pair.wait_ready(primary="b", standby="a", timeout=60)
    rejoined = [str(d["reason"]) for d in _decisions(pair.base, "a") if d["action"] == "rejoined"]
    print("a rejoined:", rejoined)
    assert rejoined and rejoined[-1].startswith("re-cloned with pg_basebackup after pg_rewind failed"), rejoined
    acked_on_b = len(checker.acked_on("b"))
    await wait_for(lambda: _more(checker, "b", acked_on_b), 20, "b acknowledging writes with a as its sync standby")
    await check_writes(pair, checker, "a", "b")
    acked = {a.value for a in checker.acks}

    async def a_has_every_acknowledged_write() -> bool:
        return acked <= {int(str(r[0])) for r in await rows(pair.endpoint("a"), "SELECT v FROM checker")}

    await wait_for(a_has_every_acknowledged_write, 20, "every acknowledged write on the re-cloned a")
    assert (await rows(pair.endpoint("a"), "SELECT pg_is_in_recovery()"))[0][0] is True


async def _some(checker: WriteChecker, node: str) -> bool:
    return bool(checker.acked_on(node))


async def test_kill_9_primary_agent_takes_its_postgres_down_and_the_replica_is_promoted(
    nats_server: EmbeddedNats, make_pair: MakePair
) -> None:
    pair = await make_pair([nats_server.url])
    postmaster = pair.postmaster_pid("a")
    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await wait_for(lambda: _some(checker, "a"), 10, "writes acknowledged by a")
    await pair.agents["a"].kill()
    await wait_for(lambda: _gone(postmaster), 10, "a's postgres to die with its agent")
    promoted = await promoted_to(pair, "b")
    await failover_seconds(pair, "a", promoted)
    await wait_for(lambda: _some(checker, "b"), 20, "writes acknowledged by b")
    await check_writes(pair, checker, "a", "b")


async def test_primary_cut_off_from_nats_fences_before_the_replica_is_promoted(
    failover_netns: Netns, tmp_path: Path
) -> None:
    netns = failover_netns
    nats = EmbeddedNats(store_dir=tmp_path / "nats" / "js", host=netns.host_ip)
    await nats.start()
    base = postgres_base()
    pair = Pair(
        base,
        [nats.url],
        primary_netns=netns.name,
        primary_address=netns.ns_ip,
        trusted=(netns.subnet, "127.0.0.1/32"),
    )
    try:
        await pair.deploy()
        await pair.start_agents()
        await pair.wait_ready()
        checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
        checker.start()
        await wait_for(lambda: _some(checker, "a"), 10, "writes acknowledged by a")
        netns.cut(nats.port)
        promoted = await promoted_to(pair, "b")
        await failover_seconds(pair, "a", promoted)
        await wait_for(lambda: _some(checker, "b"), 20, "writes acknowledged by b")
        last_on_a = max(a.at for a in checker.acked_on("a"))
        assert last_on_a < promoted.stored_at.timestamp(), "a still accepted writes after b was promoted"
        committed_on_a = [w.last for w in pair.write_windows() if w.node == "a"]
        assert committed_on_a[0] < promoted.stored_at.timestamp(), "a's log shows a commit after b was promoted"
        fenced = [d for d in _decisions(base, "a") if d["action"] == "fence"]
        assert fenced, "a never fenced itself"
        assert float(str(fenced[0]["at"])) < promoted.stored_at.timestamp(), "a fenced only after b was promoted"
        await check_writes(pair, checker, "a", "b")
    finally:
        netns.heal()
        await pair.close()
        print(pair.logs())
        await nats.stop()
        remove_base(base)


async def test_nats_down_entirely_fences_the_primary_promotes_nothing_and_service_resumes(
    nats_server: EmbeddedNats, make_pair: MakePair
) -> None:
    pair = await make_pair([nats_server.url])
    before = await pair.state()
    assert before is not None
    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await wait_for(lambda: _some(checker, "a"), 10, "writes acknowledged by a")
    port = nats_server.port
    await nats_server.kill()
    await wait_for(lambda: _fenced(pair.base, "a"), 20, "a fenced after losing the mesh")
    acked_while_fenced = len(checker.acked_on("a"))
    await asyncio.sleep(2 * FAST.failover_timeout)
    assert len(checker.acked_on("a")) == acked_while_fenced, "a accepted writes while fenced"
    assert not checker.acked_on("b"), "b accepted writes without being promoted"
    back = EmbeddedNats(store_dir=nats_server.store_dir, port=port)
    await back.start()
    try:
        await wait_for(lambda: _more(checker, "a", acked_while_fenced), 30, "a serving again after the mesh returned")
        await asyncio.sleep(2 * FAST.failover_timeout)
        history = [e.record.primary for e in await _state_history(pair)]
        assert set(history) == {"a"}, f"something was promoted: {history}"
        assert not checker.acked_on("b")
        await checker.stop()
    finally:
        await pair.close()
        await back.stop()


# Riding through a lost NATS node needs a fence window longer than what the loss costs the agent: the
# stream's leader election and, when the agent was connected to that node, nats-py's reconnect (2 s between
# attempts). FAST's 0.5 s window fences on a loaded machine; 5 s does not.
MESH_TOLERANT = TimingConfig(
    heartbeat_interval=0.2, heartbeat_timeout=1.0, failure_threshold=5, success_threshold=2, failover_timeout=6.0
)


@pytest.mark.parametrize("how", ["stop-stream-leader", "kill-9-follower"])
async def test_losing_one_node_of_a_three_node_nats_cluster_changes_nothing(
    how: str, nats_cluster: list[EmbeddedNats], make_pair: MakePair
) -> None:
    pair = await make_pair([n.url for n in nats_cluster], bucket_replicas=3, timing=MESH_TOLERANT)
    store = await pair.store()
    assert await store.replicas() == 3
    before = await pair.state()
    assert before is not None
    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await wait_for(lambda: _some(checker, "a"), 10, "writes acknowledged by a")
    leader = await store.stream_leader()
    if how == "stop-stream-leader":
        await next(n for n in nats_cluster if n.server_name == leader).stop()
    else:
        await random.choice([n for n in nats_cluster if n.server_name != leader]).kill()
    acked = len(checker.acked_on("a"))
    await asyncio.sleep(2 * MESH_TOLERANT.failover_timeout)
    after = await pair.state()
    assert after is not None
    assert after.record.primary == "a"
    assert after.record.epoch == before.record.epoch, "the cluster state changed after losing one NATS node"
    assert len(checker.acked_on("a")) > acked, "a stopped accepting writes"
    assert not checker.acked_on("b")
    assert not [d for d in _decisions(pair.base, "a") if d["action"] == "fence"], "a fenced itself"
    await checker.stop()


@pytest.mark.parametrize("seed", [11, 23])
async def test_randomized_faults_lose_no_acknowledged_write(
    seed: int, nats_server: EmbeddedNats, make_pair: MakePair
) -> None:
    rng = random.Random(seed)
    fault = rng.choice(["kill-postgres", "kill-agent"])
    print(f"seed {seed}: {fault}")
    pair = await make_pair([nats_server.url])
    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await asyncio.sleep(rng.uniform(0.2, 1.5))
    if fault == "kill-postgres":
        os.kill(pair.postmaster_pid("a"), signal.SIGKILL)
    else:
        await pair.agents["a"].kill()
    promoted = await promoted_to(pair, "b")
    await failover_seconds(pair, "a", promoted)
    await wait_for(lambda: _some(checker, "b"), 20, "writes acknowledged by b")
    await check_writes(pair, checker, "a", "b")


async def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _more(checker: WriteChecker, node: str, than: int) -> bool:
    return len(checker.acked_on(node)) > than


async def _fenced(base: Path, node: str) -> bool:
    return json.loads((base / node / "state" / "status.json").read_text())["status"] == "fenced"


def _decisions(base: Path, node: str) -> list[dict[str, object]]:
    path = base / node / "state" / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _state_history(pair: Pair) -> list[Stamped[ClusterState]]:
    from harmony.agent.records import stamped, state_key

    return [stamped(ClusterState, e) for e in await (await pair.store()).history(state_key(pair.cluster))]


async def test_restarted_agent_continues_its_sequence_rejoins_as_standby_and_stops_cleanly(
    nats_server: EmbeddedNats, make_pair: MakePair
) -> None:
    pair = await make_pair([nats_server.url])
    await pair.agents["a"].kill()
    await promoted_to(pair, "b")
    seq_before = max(b.record.seq for b in await pair.beats("a"))
    await pair.agents["a"].start()
    await pair.wait_ready(primary="b", standby="a")
    after = [b.record.seq for b in await pair.beats("a")]
    assert after[-1] > seq_before, "the restarted agent did not continue its heartbeat sequence"
    assert all(x < y for x, y in itertools.pairwise(after)), "heartbeat sequence numbers went backwards"
    states = {
        s.record.primary for s in await _state_history(pair) if s.stored_at > (await pair.beats("a"))[0].stored_at
    }
    assert "a" not in states or (await pair.state()).record.primary == "b"  # type: ignore[union-attr]
    # SIGTERM: the agent exits 0, stops its server, and says so in its journal.
    postmaster = pair.postmaster_pid("b")
    assert await pair.agents["b"].terminate() == 0
    await wait_for(lambda: _gone(postmaster), 20, "b's postgres stopped with its agent")
    assert _decisions(pair.base, "b")[-1]["action"] == "shutdown"
