"""The decision function as a table: one frozen snapshot in, one action out. No I/O, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harmony.agent.config import TimingConfig
from harmony.agent.decide import Action, LocalHealth, Memory, Snapshot, decide, status_of
from harmony.agent.records import ClusterState, Heartbeat, NodeStatus, Stamped
from harmony.domain.capabilities.postgres import ServerEndpoint
from harmony.domain.values import Port

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = TimingConfig(
    heartbeat_interval=0.1, heartbeat_timeout=0.25, failure_threshold=2, success_threshold=2, failover_timeout=1.5
)
EP = ServerEndpoint(host="127.0.0.1", port=Port(5432))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def beat(node: str, status: NodeStatus, t: float, last_serving: float | None = None) -> Stamped[Heartbeat]:
    record = Heartbeat(
        node=node, status=status, seq=1, endpoint=EP, last_serving=at(last_serving) if last_serving else None
    )
    return Stamped[Heartbeat](record=record, revision=int(t * 100) + 1, stored_at=at(t))


def state(primary: str, t: float = 0.0, sync: str | None = "b", epoch: int = 1) -> Stamped[ClusterState]:
    record = ClusterState(primary=primary, epoch=epoch, endpoint=EP, sync_standby=sync)
    return Stamped[ClusterState](record=record, revision=7, stored_at=at(t))


def snap(
    node: str,
    *,
    local: LocalHealth,
    now: float | None = 10.0,
    cluster: Stamped[ClusterState] | None = None,
    peer: Stamped[Heartbeat] | None = None,
    memory: Memory | None = None,
    nats_ok: bool = True,
) -> Snapshot:
    other = "b" if node == "a" else "a"
    return Snapshot(
        node=node,
        initial_role="primary" if node == "a" else "replica",
        peers=(other,),
        timing=TIMING,
        local=local,
        nats_ok=nats_ok,
        my_beat=beat(node, "standby", now) if nats_ok and now is not None else None,
        state=cluster if nats_ok else None,
        peer_beats={other: peer} if peer else {},
        memory=memory or Memory(),
    )


PRIMARY = LocalHealth(role="primary", streaming_standbys=("b",), sync_standbys=("b",))
STANDBY = LocalHealth(role="standby", standby_configured=True, receiving=True)
STOPPED = LocalHealth(role="stopped")
SERVING = Memory(fenced=False, fence_reason=None)


@pytest.mark.parametrize(
    ("case", "snapshot", "action"),
    [
        ("fresh primary, no state: bootstrap", snap("a", local=STOPPED), Action.BOOTSTRAP),
        ("fresh replica, no state: start as standby",
         snap("b", local=LocalHealth(role="stopped", standby_configured=True)), Action.START_STANDBY),
        ("serving primary with its sync standby published: nothing",
         snap("a", local=PRIMARY, cluster=state("a"), memory=SERVING), Action.NONE),
        ("serving primary whose standby became sync: publish it",
         snap("a", local=PRIMARY, cluster=state("a", sync=None), memory=SERVING), Action.PUBLISH_SYNC),
        ("serving primary with an async streaming peer: require sync",
         snap("a", local=LocalHealth(role="primary", streaming_standbys=("b",)), cluster=state("a", sync=None),
              memory=SERVING), Action.REQUIRE_SYNC),
        ("one failed heartbeat does not fence",
         snap("a", local=PRIMARY, nats_ok=False, memory=SERVING), Action.NONE),
        ("failure_threshold failed heartbeats fence",
         snap("a", local=PRIMARY, nats_ok=False, memory=SERVING.model_copy(update={"failures": 1})), Action.FENCE),
        ("database down for failure_threshold heartbeats fences",
         snap("a", local=STOPPED, cluster=state("a"), memory=SERVING.model_copy(update={"failures": 1})),
         Action.FENCE),
        ("fenced for the mesh, one good heartbeat: not yet",
         snap("a", local=STOPPED, cluster=state("a"), memory=Memory(fence_reason="mesh")), Action.NONE),
        ("fenced for the mesh, success_threshold good heartbeats: reclaim",
         snap("a", local=STOPPED, cluster=state("a"), memory=Memory(fence_reason="mesh", successes=1)),
         Action.RECLAIM),
        ("fenced after a database failure with a live standby: wait for it to take over",
         snap("a", local=STOPPED, cluster=state("a"), peer=beat("b", "streaming", 9.9),
              memory=Memory(fence_reason="database", successes=5)), Action.NONE),
        ("fenced after a database failure and no standby alive: recover as primary",
         snap("a", local=STOPPED, cluster=state("a"), peer=beat("b", "streaming", 1.0),
              memory=Memory(fence_reason="database", successes=5)), Action.RECLAIM),
        ("replica, primary fresh: follow",
         snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "serving", 9.5)), Action.NONE),
        ("replica, primary stale beyond failover_timeout: promote",
         snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "serving", 8.4)), Action.PROMOTE),
        ("replica, primary stale but only just (== failover_timeout): wait",
         snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "serving", 8.5)), Action.NONE),
        ("a missed serving heartbeat is relayed by the next one: no early promotion",
         snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "fenced", 9.9, last_serving=9.0)), Action.NONE),
        ("replica not the published sync standby never promotes",
         snap("b", local=STANDBY, cluster=state("a", sync=None), peer=beat("a", "serving", 1.0)), Action.NONE),
        ("replica without the mesh never promotes",
         snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "serving", 1.0), nats_ok=False), Action.NONE),
        ("replica back from its own mesh outage gives the primary a fresh window",
         snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "serving", 1.0),
              memory=Memory(mesh_lost=True)), Action.NONE),
        ("state names me while I am still a standby: finish the promotion",
         snap("b", local=STANDBY, cluster=state("b"), memory=SERVING), Action.FINISH_PROMOTION),
        ("old primary, new one not serving yet: fence and wait",
         snap("a", local=PRIMARY, cluster=state("b", t=9.0), peer=beat("b", "standby", 9.5), memory=SERVING),
         Action.FENCE),
        ("old primary, new one serving: rejoin as its standby",
         snap("a", local=PRIMARY, cluster=state("b", t=9.0), peer=beat("b", "serving", 9.5)), Action.REJOIN),
        ("old primary stopped, new one serving: rejoin",
         snap("a", local=STOPPED, cluster=state("b", t=9.0), peer=beat("b", "serving", 9.5)), Action.REJOIN),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_decide(case: str, snapshot: Snapshot, action: Action) -> None:
    decision = decide(snapshot)
    assert decision.action is action, f"{case}: {decision.reason}"
    assert decision.reason


def test_promotion_needs_the_store_stamp_of_this_tick() -> None:
    no_stamp = snap("b", local=STANDBY, cluster=state("a"), peer=beat("a", "serving", 1.0), now=None)
    assert decide(no_stamp).action is Action.NONE


def test_counters_are_probe_style() -> None:
    m = SERVING
    d1 = decide(snap("a", local=PRIMARY, nats_ok=False, memory=m))
    d2 = decide(snap("a", local=PRIMARY, cluster=state("a"), memory=d1.memory))  # one late ack arrives
    d3 = decide(snap("a", local=PRIMARY, nats_ok=False, memory=d2.memory))
    assert [d.action for d in (d1, d2, d3)] == [Action.NONE, Action.NONE, Action.NONE]


def test_status_published_in_heartbeats() -> None:
    assert status_of(PRIMARY, SERVING) == "serving"
    assert status_of(PRIMARY, Memory()) == "fenced"
    assert status_of(STANDBY, Memory()) == "streaming"
    assert status_of(LocalHealth(role="unreachable"), SERVING) == "unhealthy"
