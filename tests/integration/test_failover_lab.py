"""The PostgreSQL pair on two SSH lab hosts, NATS on a third: the primary's host is cut off from NATS by
nftables inside its own namespace; the standby's host promotes, the old primary fences itself first, no
acknowledged write is lost and the two servers never accepted writes at overlapping times — the checks of
the local failover tests, with every server, agent and daemon on its own host."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from harmony.agent.records import ClusterState, Stamped
from harmony.testing.ssh_lab import SshLab
from tests.fixtures.failover import FAST, WriteChecker, postgres_base, remove_base, rows, wait_for
from tests.fixtures.lab_failover import LabPair
from tests.fixtures.ssh_hosts import lab_hosts
from tests.fixtures.write_log import overlaps

pytestmark = pytest.mark.slow


@pytest.fixture
async def lab_pair(ssh_lab: SshLab) -> AsyncIterator[LabPair]:
    base = postgres_base()
    addresses = [str(h.address) for h in ssh_lab.inventory().hosts]
    pair = LabPair(base, lab_hosts(ssh_lab), addresses)
    try:
        yield pair
    finally:
        await pair.close()
        print(pair.logs())
        remove_base(base)


async def promoted_to(pair: LabPair, node: str, timeout: float = 60) -> Stamped[ClusterState]:
    async def probe() -> Stamped[ClusterState] | None:
        s = await pair.state()
        return s if s and s.record.primary == node else None

    return await wait_for(probe, timeout, f"{node} promoted")


async def last_serving(pair: LabPair, node: str) -> datetime:
    beats = [b.stored_at for b in await pair.beats(node) if b.record.status == "serving"]
    assert beats, f"{node} never heartbeated as serving"
    return beats[-1]


async def acked(checker: WriteChecker, node: str) -> bool:
    return bool(checker.acked_on(node))


def decisions(pair: LabPair, node: str) -> list[dict[str, object]]:
    path = pair.base / node / "state" / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_primary_host_cut_off_from_nats_fences_and_the_standby_host_promotes(lab_pair: LabPair) -> None:
    pair = lab_pair
    await pair.start_nats()
    await pair.deploy()
    await pair.start_agents()
    await pair.wait_ready()
    assert {n: s.endpoint.host for n, s in pair.servers.items()} == {"a": pair.addresses["a"], "b": pair.addresses["b"]}

    checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
    checker.start()
    await wait_for(lambda: acked(checker, "a"), 20, "writes acknowledged by a")
    await pair.cut_off("a", "nats")
    promoted = await promoted_to(pair, "b")
    staleness = (promoted.stored_at - await last_serving(pair, "a")).total_seconds()
    print(f"failover after {staleness:.3f}s of staleness (failover_timeout {FAST.failover_timeout}s)")
    assert staleness > FAST.failover_timeout, "promoted before the primary was stale for failover_timeout"
    await wait_for(lambda: acked(checker, "b"), 30, "writes acknowledged by b")
    await checker.stop()

    on_a, on_b = checker.acked_on("a"), checker.acked_on("b")
    assert max(a.at for a in on_a) < promoted.stored_at.timestamp(), "a still accepted writes after b was promoted"
    assert max(a.at for a in on_a) < min(a.at for a in on_b), "two hosts accepted writes at the same time"
    fenced = [d for d in decisions(pair, "a") if d["action"] == "fence"]
    assert fenced, "a never fenced itself"
    assert float(str(fenced[0]["at"])) < promoted.stored_at.timestamp(), "a fenced only after b was promoted"

    present = {int(str(r[0])) for r in await rows(pair.endpoint("b"), "SELECT v FROM checker")}
    lost = [a.value for a in checker.acks if a.value not in present]
    assert not lost, f"{len(lost)} acknowledged writes are missing on the new primary: {lost[:10]}"

    windows = await pair.write_windows()
    print("write windows from the servers' own logs:", windows)
    assert [w.node for w in windows] == ["a", "b"], windows
    for w in windows:
        assert w.writes >= len(checker.acked_on(w.node)), f"{w.node}'s log misses writes it acknowledged"
    assert not overlaps(windows), f"two servers committed writes at overlapping times: {overlaps(windows)}"
    print(f"{len(checker.acks)} acknowledged writes, none lost; a's last commit before b's promotion")
