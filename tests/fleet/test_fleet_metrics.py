"""Fleet metrics on a real nats-server with a real device agent: a rollout the device rejects halts at its
canary, and the control side's ``harmony_rollout_halted`` says so; the device agent counts its heartbeats and
its rejected deployment on its own ``/metrics``. A ``harmony fleet serve --metrics`` controller drives such a
rollout and serves the same gauges, with its own state, on its ``/metrics`` (scraped over HTTP)."""

from __future__ import annotations

from pathlib import Path

from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.exporter import observe_rollouts
from harmony.fleet.metrics import RolloutMetrics
from harmony.fleet.rollout import Strategy
from harmony.infra.http_api import HttpCallError, http_call
from harmony.infra.nats import FleetNatsServer
from harmony.modules.commands import Command
from tests.fixtures.fleet_controller import Controllers
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.podman import podman_in
from tests.fixtures.ports import free_port
from tests.integration.polling import eventually


async def test_a_halted_rollout_shows_in_the_control_side_metrics(
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    control = fleet_control
    await control.register("dev-a", {"site": "lab"})
    fleet_home.add_device("dev-a")
    await fleet_server.reload()
    agent = DeviceAgent(
        device="dev-a",
        options=bus_options(fleet_home.add_device("dev-a"), [fleet_server.url]),
        runtime=podman_in(tmp_path / "podman"),  # never used: the device rejects the Score before running it
        settings=AgentSettings(heartbeat_interval=0.2, metrics_port=0),
    )
    await agent.start()
    try:
        score = Command(argv=("true",))  # a kind a device does not run: rejected, i.e. failed
        await control.deploy("tool", score, selector={"site": "lab"}, strategy=Strategy(wave_timeout=30))
        final = await control.drive("tool")
        assert final.phase == "halted", final.reason

        metrics = RolloutMetrics()
        await observe_rollouts(control, metrics)
        text = metrics.endpoint.text()
        assert 'harmony_rollout_halted{deployment="tool"} 1.0' in text
        assert 'harmony_rollout_devices{deployment="tool",state="failed"} 1.0' in text

        assert agent.metrics_port is not None
        url = f"http://127.0.0.1:{agent.metrics_port}/metrics"

        async def counted() -> bool:  # the gauge is refreshed with each heartbeat
            return 'harmony_device_deployments{phase="rejected"} 1.0' in (await http_call(url)).decode()

        await eventually(counted, what="the rejected deployment counted on the device's /metrics")
        assert "harmony_device_heartbeats_total" in (await http_call(url)).decode()
    finally:
        await agent.stop()


async def test_fleet_serve_serves_metrics(
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
    controllers: Controllers,
) -> None:
    control = fleet_control
    await control.register("dev-m", {"site": "lab"})
    fleet_home.add_device("dev-m")
    await fleet_server.reload()
    agent = DeviceAgent(
        device="dev-m",
        options=bus_options(fleet_home.add_device("dev-m"), [fleet_server.url]),
        runtime=podman_in(tmp_path / "podman"),  # never used: the device rejects the Score before running it
        settings=AgentSettings(heartbeat_interval=0.2),
    )
    await agent.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    controllers.start("m1", "--metrics", f"127.0.0.1:{port}")
    try:

        async def scraped(line: str) -> bool:
            try:
                return line in (await http_call(url)).decode()
            except HttpCallError:
                return False  # not listening yet

        await eventually(
            lambda: scraped('harmony_fleet_controller_active{controller="m1"} 1.0'),
            what="m1 active on its /metrics",
            deadline=60,
        )
        assert 'harmony_fleet_controller_connected{controller="m1"} 1.0' in (await http_call(url)).decode()
        score = Command(argv=("true",))  # a kind a device does not run: rejected, so the canary fails
        await control.deploy("served", score, selector={"site": "lab"}, strategy=Strategy(wave_timeout=30))
        await eventually(
            lambda: scraped('harmony_rollout_halted{deployment="served"} 1.0'),
            what="the halt the controller drove to, on its /metrics",
            deadline=90,
        )
        text = (await http_call(url)).decode()
        assert 'harmony_rollout_devices{deployment="served",state="failed"} 1.0' in text
        assert (await control.rollout("served"))[0].phase == "halted"  # the controller drove it, not this test
    finally:
        await agent.stop()
        assert controllers.stop("m1") == 0, controllers.log("m1")
