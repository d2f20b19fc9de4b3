"""Fleet metrics on a real nats-server with a real device agent: a rollout the device rejects halts at its
canary, and the control side's ``harmony_rollout_halted`` says so; the device agent counts its heartbeats and
its rejected deployment on its own ``/metrics``."""

from __future__ import annotations

from pathlib import Path

from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.exporter import observe_rollouts
from harmony.fleet.metrics import RolloutMetrics
from harmony.fleet.rollout import Strategy
from harmony.infra.http_api import http_call
from harmony.infra.nats import FleetNatsServer
from harmony.modules.commands import Command
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.podman import podman_in
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
