"""The agent installed as Scores on an SSH lab host: binary, credentials (0600), its ``agent run --config`` file
with the ``[device]`` role (0600), service; first apply waits for its first heartbeat in a real nats-server,
the second is NOOP; a new binary restarts it.

Lab hosts have no systemd, so the service is a supervised pid-file daemon there; the systemd unit the
same service becomes on a systemd host is checked with ``systemd-analyze verify``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.outcome import Status
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.install import AgentLayout, install_scores
from harmony.fleet.records import HEARTBEAT
from harmony.fleet.roles import load_roles
from harmony.infra.daemon import ConnectorServices, render_unit
from harmony.infra.nats import FleetNatsServer
from harmony.infra.pyinstaller import AgentBinary
from harmony.maestro.runner import Maestro, RunReport
from harmony.modules.agent.binary import AgentBinary as AgentBinaryScore
from harmony.testing.ssh_lab import SshLab
from harmony.topology.agent_host import AgentHost, StoreHeartbeats
from tests.fixtures.ssh_hosts import lab_hosts

pytestmark = pytest.mark.slow


def outcomes(report: RunReport) -> str:
    return "\n".join(
        f"{r.score}: {r.outcome.status} {r.outcome.message} {r.outcome.details}" for r in report.results if r.outcome
    )


async def test_installed_as_scores_heartbeats_then_noop(
    agent_binary: AgentBinary,
    ssh_lab: SshLab,
    fleet_home: FleetHome,
    lab_nats: FleetNatsServer,
    lab_control: FleetControl,
    tmp_path: Path,
) -> None:
    device = f"inst-{ssh_lab.hosts[0].netns[-6:]}"
    identity = fleet_home.add_device(device).model_copy(update={"servers": (lab_nats.url,)})
    await lab_nats.reload()
    await lab_control.register(device, {})
    layout = AgentLayout(root=PurePosixPath("/var/lib/harmony") / device, heartbeat_interval=0.5)
    scores = install_scores(AgentBinaryScore.of(agent_binary.path), identity, layout=layout)
    host = AgentHost(lab_hosts(ssh_lab)[0], heartbeats=StoreHeartbeats(lab_control.bus.bucket(HEARTBEAT)))
    services = ConnectorServices(host.connector)
    try:
        first = await Maestro(host).apply(scores)
        assert first.status == Status.SUCCESS, outcomes(first)
        assert [r.outcome.status for r in first.results if r.outcome] == [Status.SUCCESS] * 4
        assert device in (await lab_control.live_view()).beats

        await host.ensure_ready()  # the Maestro closed it after its run
        state = await services.service_state(scores[3].service)
        assert (state.running, state.manager, state.revision) == (True, "daemon", scores[3].service.revision)
        files = await host.stat_files([layout.credentials, layout.config], with_content=True)
        assert files[layout.credentials].mode == 0o600 and files[layout.config].mode == 0o600
        argv = scores[3].service.argv  # the supervisor runs the agent with its roles' file
        assert argv[1:3] == ("agent", "supervise") and argv[-4:] == ("agent", "run", "--config", str(layout.config))
        config = tmp_path / "agent.toml"  # what the service runs is the [device] role of `agent run --config`
        config.write_bytes(files[layout.config].content or b"")
        roles = load_roles(config, env={})
        assert roles.enabled == ("device",) and roles.device is not None
        assert roles.device.credentials == Path(layout.credentials) and roles.device.heartbeat == 0.5
        pid = await services.daemons()  # the pid proves the second apply left it alone
        before = await pid.pid(services.daemon(scores[3].service))

        second = await Maestro(host).apply(scores)
        assert [r.outcome.status for r in second.results if r.outcome] == [Status.NOOP] * 4, second.results
        await host.ensure_ready()
        assert await pid.pid(services.daemon(scores[3].service)) == before

        # the systemd unit this service becomes on a systemd host: accepted by systemd-analyze verify
        unit = tmp_path / "harmony-agent.service"
        unit.write_text(render_unit(services.daemon(scores[3].service), netns=None))
        check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
        assert check.returncode == 0 and check.stderr.strip() == "", check.stderr
    finally:
        await host.ensure_ready()
        control = await services.daemons()
        await control.stop(services.daemon(scores[3].service))
        await host.close()
