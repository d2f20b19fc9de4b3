"""The device agent's tasks under one supervisor and its applies through the Maestro, against a real
nats-server and real podman.

- A reconciler that raises an error Harmony does not expect (a bug: not a ``HarmonyError``) is restarted and
  reported (log, the ``harmony_agent_task_crashes`` metric, the heartbeat), never silently gone: the
  deployment it was working on still converges afterwards.
- The apply is a Maestro run: in the journal, named by the device's reported state.
- Restarting the real nats-server again and again leaves the agent with the same number of tasks.

The one fault injected by hand is the bug itself (``BuggyPodman``): an agent's own programming error
cannot be produced by any real component.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.containers import ContainerInfo, ContainerName, ContainerSpec, ImageRef
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.records import DESIRED, HEARTBEAT, STATE, DeploymentState, Heartbeat
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer
from harmony.infra.podman import Podman
from harmony.maestro.journal import Journal, RunStatus
from harmony.modules.application.container import Container
from harmony.modules.application.rootfs import busybox_rootfs_tar
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.podman import busybox_binary, podman_in, wipe

IMAGE = ImageRef("localhost/supervised:1")
SETTINGS = AgentSettings(
    heartbeat_interval=0.3, ground_truth_interval=1.0, resync_jitter=0.3, health_timeout=8.0, restart_delay=0.2
)


class AgentBug(Exception):
    """Stands for a programming error in the agent (not a ``HarmonyError``)."""


class BuggyPodman(Podman):
    """Real podman whose first ``bugs`` container inspections raise ``AgentBug``: the injected fault."""

    bugs = 0

    async def inspect_container(self, name: str) -> ContainerInfo | None:
        if self.bugs > 0:
            self.bugs -= 1
            raise AgentBug(f"inspecting {name} hit a bug")
        return await super().inspect_container(name)


async def until[T](probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, timeout: float = 40) -> T:
    """Poll ``probe`` until ``ok`` (readiness with a deadline; the caller asserts on the last value)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.2)


def sleeper() -> Container:
    spec = ContainerSpec(name=ContainerName("sleeper"), image=IMAGE, command=("sleep", "600"), restart="no")
    return Container(spec=spec, stop_grace=0.5)


@pytest.fixture
async def agent(tmp_path: Path, fleet_home: FleetHome, fleet_server: FleetNatsServer) -> AsyncIterator[DeviceAgent]:
    plain = podman_in(tmp_path / "podman")
    runtime = BuggyPodman(root=plain.root, runroot=plain.runroot, storage_driver=plain.storage_driver, conf=plain.conf)
    archive = tmp_path / "rootfs.tar"
    archive.write_bytes(busybox_rootfs_tar(busybox_binary(), {}))
    await runtime.import_image(PurePosixPath(archive), IMAGE)
    device = "dev-s"
    options = bus_options(fleet_home.add_device(device), [fleet_server.url])
    await fleet_server.reload()
    agent = DeviceAgent(device=device, options=options, runtime=runtime, settings=SETTINGS)
    agent.settings.metrics_port = 0
    try:
        yield agent
    finally:
        await agent.stop()
        wipe(runtime)


async def beat_of(control: FleetControl, device: str) -> Heartbeat | None:
    found = await control.bus.bucket(HEARTBEAT).get(device)
    return None if found is None else Heartbeat.from_bytes(found.value)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
        body: bytes = r.read()
    return body.decode()


async def test_a_reconciler_bug_is_restarted_and_reported(
    agent: DeviceAgent, fleet_control: FleetControl, caplog: pytest.LogCaptureFixture
) -> None:
    control = fleet_control
    await control.register(agent.device, {"site": "lab"})
    await agent.start()
    assert isinstance(agent.runtime, BuggyPodman)
    agent.runtime.bugs = 2  # the reconciler crashes twice in a row (and backs off in between)

    await control.deploy("sleeper", sleeper(), selector={"site": "lab"}, strategy=Strategy())
    await control.drive("sleeper")

    status = await until(lambda: control.status("sleeper"), lambda s: s.healthy == 1, timeout=60)
    assert status.healthy == 1, status
    crashed = [h for h in agent.tasks.health() if h.name == "reconciler"]
    assert crashed and crashed[0].crashes >= 1 and "AgentBug" in crashed[0].last_error
    assert crashed[0].state == "running"  # restarted, not gone
    assert any("task reconciler crashed" in r.getMessage() and r.exc_info for r in caplog.records)

    # the apply went through the Maestro: journaled like any run, and the device's state names that run
    state = await control.bus.bucket(STATE).get(f"{agent.device}.sleeper")
    assert state is not None
    run_id = DeploymentState.from_bytes(state.value).run
    run = Journal().run(run_id) if run_id else None
    assert run is not None and run.deployment == f"fleet:{agent.device}:sleeper", run
    assert run.status is RunStatus.SUCCESS and [r.score for r in run.results] == ["container:sleeper"]

    beat = await until(lambda: beat_of(control, agent.device), lambda b: b is not None and b.crashes >= 1)
    assert beat is not None and beat.crashes >= 1 and beat.down == ()
    assert agent.metrics_port is not None
    text = scrape(agent.metrics_port)
    assert 'harmony_agent_task_crashes_total{task="reconciler"}' in text


async def test_reconnects_leave_the_task_count_constant(
    agent: DeviceAgent, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    del fleet_control  # it made the buckets
    await agent.start()
    await asyncio.sleep(SETTINGS.resync_jitter * 2)  # the first resync is done
    before = agent.tasks.running
    assert before == 3  # reconciler, ground truth, heartbeat
    assert agent.bus is not None
    for _ in range(4):
        await fleet_server.stop()
        await until(lambda: _connected(agent), lambda up: not up, timeout=20)
        await fleet_server.start()
        await until(lambda: _connected(agent), lambda up: up, timeout=30)
    await asyncio.sleep(SETTINGS.resync_jitter * 2)  # the last resync (one at most) has finished
    await until(lambda: _count(agent), lambda n: n == before, timeout=10)
    assert agent.tasks.running == before
    assert agent.tasks.crashes == 0


async def _connected(agent: DeviceAgent) -> bool:
    return agent.bus is not None and agent.bus.connected


async def _count(agent: DeviceAgent) -> int:
    return agent.tasks.running


async def test_a_server_too_busy_to_answer_the_first_resync_delays_the_start_instead_of_ending_it(
    tmp_path: Path, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    # SIGSTOP makes a real server that accepted the connection answer nothing for a while, as one busy with
    # 10,000 agents starting at once does; the agent's calls time out after 0.5 s meanwhile
    options = dataclasses.replace(bus_options(fleet_home.add_device("dev-busy"), [fleet_server.url]), timeout=0.5)
    await fleet_server.reload()
    agent = DeviceAgent(device="dev-busy", options=options, runtime=podman_in(tmp_path / "podman"), settings=SETTINGS)
    assert fleet_server.process is not None
    starting = asyncio.create_task(agent.start())
    try:
        while agent.bus is None and not starting.done():  # noqa: ASYNC110 - nothing signals "connected"
            await asyncio.sleep(0)  # once connected, the resync comes next
        fleet_server.process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(1.5)
        fleet_server.process.send_signal(signal.SIGCONT)
        await asyncio.wait_for(starting, 30)
        assert agent.ready.is_set()
    finally:
        fleet_server.process.send_signal(signal.SIGCONT)
        starting.cancel()
        await agent.stop()


async def test_a_report_the_server_did_not_take_is_made_again_before_the_next_ground_truth_pass(
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the state bucket is gone while the device is connected (a real fault: the server answers "no stream"),
    # so its report of a rejected entry fails; the ground truth would report again only after 600 s
    options = bus_options(fleet_home.add_device("dev-late"), [fleet_server.url])
    await fleet_server.reload()
    settings = dataclasses.replace(SETTINGS, ground_truth_interval=600.0)
    agent = DeviceAgent(device="dev-late", options=options, runtime=podman_in(tmp_path / "podman"), settings=settings)
    await agent.start()
    try:
        await fleet_control.bus.js.delete_stream(f"KV_{STATE}")
        await fleet_control.bus.bucket(DESIRED).publish("dev-late.odd", b'{"kind": "no-such-kind"}')
        failed = await until(lambda: _failed_reports(caplog, "dev-late: could not report odd"), lambda n: n >= 1)
        assert failed >= 1, "the report failed while the state bucket was missing"
        await fleet_control.bus.ensure_bucket(STATE)
        state = await until(lambda: fleet_control.bus.bucket(STATE).get("dev-late.odd"), lambda e: e is not None)
        assert state is not None, "reported again once the bucket was back, without waiting for the ground truth"
        assert DeploymentState.from_bytes(state.value).phase == "rejected"
    finally:
        await agent.stop()


async def _failed_reports(caplog: pytest.LogCaptureFixture, prefix: str) -> int:
    return sum(r.getMessage().startswith(prefix) for r in caplog.records)
