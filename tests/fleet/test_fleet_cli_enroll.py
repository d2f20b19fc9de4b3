"""``harmony fleet enroll`` and ``harmony fleet revoke`` through the real console script, on SSH lab hosts.

A fleet home made by ``fleet init --host`` (the lab side of this machine), its ``fleet server`` (a real
nats-server that rereads its authorization), two devices enrolled with the one-file agent: they heartbeat;
enrolling again changes nothing and says so; bad input is refused naming the field, the value and what was
expected, with nothing half-applied; revoking one removes its agent from its host and the server refuses it
while the other keeps beating; revoking a device whose host cannot be reached still removes its NATS user,
says the host could not be cleaned, and revoking again once the host is back removes the agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.errors import KeyValueAuthError
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.enroll import device_options
from harmony.fleet.install import AgentLayout, removal_score
from harmony.infra.daemon import ConnectorServices
from harmony.infra.nats import NatsConnection
from harmony.infra.pyinstaller import AgentBinary
from harmony.testing.ssh_lab import SshLab
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.agent_binary import gateway
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.ports import free_port
from tests.fixtures.ssh_hosts import lab_hosts

pytestmark = pytest.mark.slow

HARMONY = str(Path(sys.executable).parent / "harmony")


@dataclass
class Operator:
    home: Path
    log: Path
    server: subprocess.Popen[bytes] | None = None
    said: list[str] = field(default_factory=list[str])

    async def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HARMONY_FLEET_HOME": str(self.home)}
        done = await asyncio.to_thread(
            subprocess.run, [HARMONY, "fleet", *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        self.said += [done.stdout, done.stderr]
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done


@pytest.fixture
async def operator(tmp_path: Path, ssh_lab: SshLab) -> AsyncIterator[Operator]:
    op = Operator(home=tmp_path / "fleet", log=tmp_path / "server.log")
    host = gateway(ssh_lab)
    await op.run("init", "--host", host, "--port", str(free_port(host)))
    with op.log.open("wb") as log:
        op.server = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant
            [HARMONY, "fleet", "server"], env={**os.environ, "HARMONY_FLEET_HOME": str(op.home)},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(300):
            if "listening on" in op.log.read_text():
                break
            assert op.server.poll() is None, op.log.read_text()
            await asyncio.sleep(0.1)
        yield op
    finally:
        op.server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(op.server.wait, 30)


def link(lab: SshLab, index: int, state: str) -> None:
    subprocess.run(["ip", "link", "set", lab.hosts[index].veth, state], check=True)


async def refused(identity: Identity) -> bool:
    """Whether the server refuses ``identity`` (polled: it rereads its authorization within a second)."""
    for _ in range(100):
        try:
            bus = await NatsConnection.connect(device_options(identity))
        except KeyValueAuthError:
            return True
        await bus.close()
        await asyncio.sleep(0.2)
    return False


async def beats_of(control: FleetControl, device: str) -> int:
    view = await control.live_view()
    return view.beats[device][0].seq if device in view.beats else 0


async def agent_files(host: LinuxHost, layout: AgentLayout) -> dict[PurePosixPath, str]:
    await host.ensure_ready()
    found = await host.stat_files(list(layout.installed_files()), with_content=False)
    return {p: s.kind for p, s in found.items()}


async def test_enroll_again_bad_input_revoke_and_revoke_unreachable_through_the_cli(
    agent_binary: AgentBinary, ssh_lab: SshLab, operator: Operator
) -> None:
    op = operator
    root = f"/var/lib/harmony/cli-{ssh_lab.token}-{os.getpid()}"
    layout = AgentLayout(root=PurePosixPath(root))
    devices = [f"cli-{i}-{ssh_lab.token}" for i in range(2)]
    access = ("--key", str(ssh_lab.key), "--known-hosts", str(ssh_lab.known_hosts))
    common = (*access, "--binary", str(agent_binary.path), "--dir", root, "--heartbeat", "0.5", "-l", "site=cli")
    home = FleetHome(op.home)
    control = await FleetControl.connect(bus_options(home.control(), list(home.control().servers)))
    hosts = lab_hosts(ssh_lab)
    try:
        for i, device in enumerate(devices):
            done = json.loads(
                (await op.run("enroll", ssh_lab.hosts[i].address, "--device", device, *common, "--json")).stdout
            )
            assert done["changed"] and {s["status"] for s in done["steps"]} == {"success"}, done
        overview = {d["device"]: d for d in json.loads((await op.run("devices", "--json")).stdout)}
        assert all(overview[d]["online"] and overview[d]["labels"] == {"site": "cli"} for d in devices), overview
        installed = await agent_files(hosts[0], layout)
        assert {installed[p] for p in (layout.binary, layout.credentials, layout.config)} == {"file"}, installed

        # enrolling again: NOOP, and the output says so
        again = await op.run("enroll", ssh_lab.hosts[0].address, "--device", devices[0], *common)
        assert f"{devices[0]} on root@{ssh_lab.hosts[0].address}:22: already enrolled: nothing changed" in again.stdout
        again_json = json.loads(
            (await op.run("enroll", ssh_lab.hosts[0].address, "--device", devices[0], *common, "--json")).stdout
        )
        assert not again_json["changed"] and {s["status"] for s in again_json["steps"]} == {"noop"}, again_json

        # bad input: the field, the value and what was expected; exit code 1; nothing half-applied
        auth_before = home.auth_file.read_bytes()
        unknown = await op.run("revoke", "nope-dev", ok=False)
        assert unknown.returncode == 1 and "DEVICE" in unknown.stderr and "nope-dev" in unknown.stderr, unknown.stderr
        assert "an enrolled device" in unknown.stderr
        malformed = await op.run("enroll", "not a host!", "--device", "cli-x", *common, ok=False)
        assert malformed.returncode == 1 and "HOST" in malformed.stderr and "not a host!" in malformed.stderr
        assert "an IP address" in malformed.stderr
        bad_name = await op.run("enroll", ssh_lab.hosts[0].address, "--device", "Bad_Name", *common, ok=False)
        assert bad_name.returncode == 1 and "--device" in bad_name.stderr and "Bad_Name" in bad_name.stderr
        closed = free_port()
        unreachable = await op.run("enroll", "127.0.0.1", "--port", str(closed), "--device", "cli-x", *common, ok=False)
        assert unreachable.returncode == 1 and f"root@127.0.0.1:{closed}" in unreachable.stderr, unreachable.stderr
        assert "Nothing was changed" in unreachable.stderr
        assert home.auth_file.read_bytes() == auth_before and not home.device_file("cli-x").exists()
        assert "cli-x" not in {r.device for r in await control.devices()}

        # revoke: the agent is removed from its host, the server refuses the device, the other keeps beating
        revoked = home.add_device(devices[1], rewrite_auth=False)
        said = json.loads((await op.run("revoke", devices[1], "--json")).stdout)
        assert said["cleaned"] and said["host"] == f"root@{ssh_lab.hosts[1].address}:22", said
        assert await refused(revoked)
        assert set((await agent_files(hosts[1], layout)).values()) == {"missing"}
        services = ConnectorServices(hosts[1].connector)
        assert not (await services.service_state(removal_score(devices[1], layout).service)).running
        mark = await beats_of(control, devices[0])
        for _ in range(100):
            if await beats_of(control, devices[0]) > mark:
                break
            await asyncio.sleep(0.1)
        assert await beats_of(control, devices[0]) > mark
        assert devices[1] not in {d["device"] for d in json.loads((await op.run("devices", "--json")).stdout)}

        # a host that cannot be reached: its NATS user is still removed, the output says the host is not cleaned
        gone = home.add_device(devices[0], rewrite_auth=False)
        link(ssh_lab, 0, "down")
        try:
            cut = await op.run("revoke", devices[0])
            assert "its NATS user and record are removed" in cut.stdout, cut.stdout
            assert f"its host root@{ssh_lab.hosts[0].address}:22 could not be cleaned" in cut.stdout, cut.stdout
            assert f"run `harmony fleet revoke {devices[0]}` again" in cut.stdout
            assert await refused(gone)
        finally:
            link(ssh_lab, 0, "up")
        await hosts[0].close()  # its connection died with the link
        back = await op.run("revoke", devices[0])
        assert "its agent on" in back.stdout and "is stopped and removed" in back.stdout, back.stdout
        assert set((await agent_files(hosts[0], layout)).values()) == {"missing"}
        password = revoked.password.reveal()
        assert not any(password in text for text in op.said)  # no secret in any output
    finally:
        await control.close()
        for host in hosts:
            await host.ensure_ready()
            await ConnectorServices(host.connector).remove_service(removal_score("any", layout).service)
            await host.run_command(["rm", "-rf", "--", root], timeout=60)
            await host.close()
