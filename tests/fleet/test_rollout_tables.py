"""Rollout waves, the wave gate, status aggregation and the agent's acceptance of entries, as tables."""

from __future__ import annotations

import json

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.score import score_adapter
from harmony.fleet.device_agent import Rejected, accept
from harmony.fleet.records import DeploymentState, Phase
from harmony.fleet.rollout import Rollout, Strategy, plan_waves, waiting_for, wave_verdict
from harmony.fleet.status import aggregate
from harmony.modules.application.container import Container

DEVICES = [f"d{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("strategy", "sizes"),
    [
        (Strategy(), [10]),
        (Strategy(canary=0.1, waves=3), [1, 3, 3, 3]),
        (Strategy(canary=0.01, waves=1), [1, 9]),
        (Strategy(canary=0.5, waves=2), [5, 3, 2]),
        (Strategy(waves=20), [1] * 10),
        (Strategy(canary=1.0, waves=3), [10]),
    ],
)
def test_waves(strategy: Strategy, sizes: list[int]) -> None:
    waves = plan_waves(DEVICES, strategy)
    assert [len(w) for w in waves] == sizes
    assert [d for w in waves for d in w] == DEVICES  # every device exactly once, in order


def rollout(next_wave: int, threshold: float = 0.0) -> Rollout:
    strategy = Strategy(canary=0.2, waves=2, failure_threshold=threshold, wave_timeout=60)
    return Rollout(
        deployment="web", version="v2", desired="{}", selector={}, strategy=strategy,
        waves=plan_waves(DEVICES, strategy), next_wave=next_wave,
    )  # fmt: skip


def states(**phases: Phase) -> dict[str, DeploymentState]:
    return {d: DeploymentState(deployment="web", version="v2", phase=p) for d, p in phases.items()}


ALL_ONLINE = dict.fromkeys(DEVICES, True)


@pytest.mark.parametrize(
    ("reported", "online", "waited", "threshold", "verdict"),
    [
        ({}, ALL_ONLINE, 0.0, 0.0, "wait"),  # canary d0, d1 not reported yet
        (states(d0="running"), ALL_ONLINE, 0.0, 0.0, "wait"),
        (states(d0="running", d1="running"), ALL_ONLINE, 0.0, 0.0, "next"),
        (states(d0="running", d1="failed"), ALL_ONLINE, 0.0, 0.0, "halt"),
        (states(d0="running", d1="rejected"), ALL_ONLINE, 0.0, 0.0, "halt"),
        (states(d0="running", d1="failed"), ALL_ONLINE, 0.0, 0.5, "next"),  # 50% is not above 50%
        (states(d0="running"), {**ALL_ONLINE, "d1": False}, 0.0, 0.0, "next"),  # offline does not hold it back
        (states(d0="running"), ALL_ONLINE, 61.0, 0.0, "halt"),  # d1 timed out: counted as failed
        (states(d0="running", d1="applying"), ALL_ONLINE, 0.0, 0.0, "wait"),
    ],
)
def test_canary_gate(
    reported: dict[str, DeploymentState], online: dict[str, bool], waited: float, threshold: float, verdict: str
) -> None:
    assert wave_verdict(rollout(1, threshold), reported, online, waited=waited)[0] == verdict


def test_a_look_waits_for_the_online_devices_not_settled_on_this_version() -> None:
    # canary d0, d1; then d2..d5
    reported = {**states(d0="running", d2="failed", d3="applying"), "d4": states(d4="running")["d4"].model_copy(
        update={"version": "v1"})}  # fmt: skip
    assert waiting_for(rollout(1), reported, ALL_ONLINE) == ["d1"]
    assert waiting_for(rollout(2), reported, {**ALL_ONLINE, "d5": False}) == ["d3", "d4"]
    # what a driver's next look checks first: only the devices its last look waited for
    assert waiting_for(rollout(2), reported, ALL_ONLINE, among=["d2", "d3", "d9"]) == ["d3", "d9"]


def test_old_version_reports_do_not_count() -> None:
    old = {"d0": DeploymentState(deployment="web", version="v1", phase="running")}
    assert wave_verdict(rollout(1), old, ALL_ONLINE, waited=0.0)[0] == "wait"


def test_status_counts() -> None:
    reported = states(d0="running", d1="failed")
    reported["d2"] = DeploymentState(deployment="web", version="v1", phase="running")
    status = aggregate(rollout(2), reported, {**ALL_ONLINE, "d9": False})
    assert (status.targeted, status.updated, status.healthy, status.failed, status.offline) == (10, 2, 1, 1, 1)
    verdicts = {d.device: d.verdict for d in status.devices}
    assert verdicts["d2"] == "updating" and verdicts["d7"] == "pending" and verdicts["d9"] == "offline"


def container() -> Container:
    return Container(spec=ContainerSpec(name=ContainerName("web"), image=ImageRef("localhost/web:1")))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not a valid Score"),
        (b'{"kind": "no-such-kind"}', "no-such-kind"),
        (b'{"kind": "container", "spec": {"name": "-bad", "image": "localhost/web:1"}}', "spec.name"),
    ],
)
def test_agent_rejects_entries_it_cannot_run(raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        accept(raw)


def test_agent_accepts_the_wire_form_of_a_container_score() -> None:
    score = container()
    assert accept(score_adapter().dump_json(score)) == score


def test_heartbeats_stay_small() -> None:
    from harmony.fleet.records import Heartbeat

    beat = Heartbeat(t=1_800_000_000.123, seq=10_000_000, ok=99, bad=99, crashes=3)
    assert len(beat.to_bytes()) <= 96  # the original project's budget for a heartbeat payload


def test_one_heartbeat_type_for_every_role() -> None:
    from harmony.agent.records import Heartbeat as MemberHeartbeat
    from harmony.fleet.records import Heartbeat as DeviceHeartbeat

    assert MemberHeartbeat is DeviceHeartbeat
    device = DeviceHeartbeat(seq=4, t=1.5, ok=2, bad=1, down=("reconciler",))
    assert json.loads(device.to_bytes()) == {"seq": 4, "t": 1.5, "ok": 2, "bad": 1, "down": ["reconciler"]}
    assert DeviceHeartbeat.from_bytes(device.to_bytes()) == device
