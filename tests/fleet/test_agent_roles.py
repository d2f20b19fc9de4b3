"""One agent process with its roles switched on by its configuration file (``harmony agent run --config``).

The loading rules, then one real process with the fleet-device and container-supervisor roles against a real
nats-server and real podman: it heartbeats and runs what the fleet deploys, and a container stopped by hand
is restarted by the supervisor role (the device's drift check is set too far out to do it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.errors import AgentConfigError, InvalidValueError
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_run import DeviceSettings, device_run
from harmony.fleet.records import HEARTBEAT, Heartbeat
from harmony.fleet.roles import load_roles, roles_toml
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer
from harmony.modules.application.container import Container
from harmony.modules.application.rootfs import busybox_rootfs_tar
from tests.fixtures.podman import busybox_binary, podman_in, wipe

IMAGE = ImageRef("localhost/roles:1")
FAILOVER = """
node_id = "pg-a"
cluster = "pg"
initial_role = "primary"
peers = ["pg-b"]
state_dir = "/tmp/state"
[nats]
servers = ["nats://127.0.0.1:4222"]
[postgres]
data_dir = "/tmp/data"
port = 5432
"""


def test_a_file_without_role_tables_is_the_failover_agents_own(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(FAILOVER)
    roles = load_roles(path, env={})
    assert roles.enabled == ("failover",) and roles.failover is not None and roles.failover.node_id == "pg-a"


def test_roles_are_the_tables_present(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    failover = "\n".join(
        line.replace("[", "[failover.") if line.startswith("[") else line for line in FAILOVER.splitlines()
    )
    path.write_text(
        f'[device]\ncredentials = "d.json"\nstore = "/s"\n[containers]\ninterval = 2.0\n[failover]\n{failover}\n'
    )
    roles = load_roles(path, env={})
    assert roles.enabled == ("failover", "device", "containers")
    assert roles.device is not None and roles.device.heartbeat == 5.0
    assert roles.containers is not None and roles.containers.store is None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[device]\nstore = "/s"\n', "device.credentials"),
        ('[device]\ncredentials = "d.json"\nstore = "/s"\nheartbeat = 0\n', "device.heartbeat"),
        ("[containers]\nintervall = 1\n", "containers.intervall"),
        ('[device]\ncredentials = "d.json"\nstore = "/s"\ndns_port = 0\n', "device.dns_port"),
        ('[device]\ncredentials = "d.json"\nstore = "/s"\nregistry_logins = ["l.json"]\n', "device.registry_logins"),
    ],
)
def test_a_bad_role_names_its_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(AgentConfigError) as caught:
        load_roles(path, env={})
    assert caught.value.field == field and str(path) in str(caught.value)


def test_the_device_role_has_what_fleet_agent_takes_and_is_written_back_as_read(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[device]\ncredentials = "d.json"\nstore = "/s"\ndns_port = 5353\nregistry_logins = ["site.json"]\n'
        '[device.images]\n"localhost/web:1" = "/img/web.tar"\n'
    )
    roles = load_roles(path, env={})
    assert roles.device is not None
    assert roles.device.images == {"localhost/web:1": Path("/img/web.tar")}
    assert (roles.device.dns_port, roles.device.registry_logins) == (5353, (Path("site.json"),))
    again = tmp_path / "again.toml"
    again.write_text(roles_toml(roles))
    assert load_roles(again, env={}) == roles


def test_a_device_file_that_cannot_run_is_refused_before_anything_starts(tmp_path: Path, fleet_home: FleetHome) -> None:
    fleet_home.add_device("dev-f")
    credentials = fleet_home.device_file("dev-f")
    with pytest.raises(InvalidValueError) as caught:
        device_run(DeviceSettings(credentials=fleet_home.control_file, store=tmp_path / "s"))
    assert caught.value.field == "device.credentials" and "not a device's" in str(caught.value)
    missing = tmp_path / "missing.tar"
    with pytest.raises(InvalidValueError) as caught:
        device_run(DeviceSettings(credentials=credentials, store=tmp_path / "s", images={"localhost/x:1": missing}))
    assert caught.value.field == "device.images" and str(missing) in str(caught.value)
    login = tmp_path / "login.json"
    login.write_text("{}")
    login.chmod(0o644)
    settings = DeviceSettings(credentials=credentials, store=tmp_path / "s", dns_port=5353, registry_logins=[login])
    with pytest.raises(InvalidValueError) as caught:
        device_run(settings)
    assert caught.value.field == "device.registry_logins" and "chmod 600" in str(caught.value)


def main_pid(inspect: list[str]) -> int:
    """The container's main process on this machine (0 while it is not running)."""
    return int(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip() or 0)


async def until[T](probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, timeout: float = 60) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.3)


@pytest.mark.slow
async def test_one_process_runs_the_device_and_container_supervisor_roles(
    tmp_path: Path, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    control = fleet_control
    device = "dev-r"
    store = tmp_path / "store"
    runtime = podman_in(store)
    archive = tmp_path / "rootfs.tar"
    archive.write_bytes(busybox_rootfs_tar(busybox_binary(), {}))
    await runtime.import_image(PurePosixPath(archive), IMAGE)
    fleet_home.add_device(device)
    await fleet_server.reload()
    await control.register(device, {"site": "lab"})
    credentials = tmp_path / "dev-r.json"  # the fleet's file names port 0: the server's port is known now
    found = json.loads(fleet_home.device_file(device).read_text())
    credentials.write_text(json.dumps(found | {"servers": [fleet_server.url]}))
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[device]\ncredentials = "{credentials}"\nstore = "{store}"\nheartbeat = 0.5\n'
        f'ground_truth = 600\n[containers]\nstore = "{store}"\ninterval = 0.5\n'
    )
    harmony = str(Path(sys.executable).parent / "harmony")
    log = (tmp_path / "agent.log").open("w")
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant
        [harmony, "agent", "run", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        spec = ContainerSpec(name=ContainerName("sleeper"), image=IMAGE, command=("sleep", "600"), restart="always")
        await control.deploy(
            "sleeper", Container(spec=spec, stop_grace=0.5), selector={"site": "lab"}, strategy=Strategy()
        )
        await control.drive("sleeper")
        status = await until(lambda: control.status("sleeper"), lambda s: s.healthy == 1)
        assert status.healthy == 1, (status, (tmp_path / "agent.log").read_text()[-2000:])
        beat = await control.bus.bucket(HEARTBEAT).get(device)
        assert beat is not None and Heartbeat.from_bytes(beat.value).crashes == 0

        # a crash: its process killed from outside (`podman stop` would race the supervisor's restart in its
        # own clean-up and fail with "container state improper")
        crashed = await asyncio.to_thread(main_pid, runtime.argv("inspect", "--format", "{{.State.Pid}}", "sleeper"))
        os.kill(crashed, signal.SIGKILL)
        again = await until(
            lambda: asyncio.to_thread(main_pid, runtime.argv("inspect", "--format", "{{.State.Pid}}", "sleeper")),
            lambda pid: pid not in (0, crashed),
        )
        assert again not in (0, crashed), (tmp_path / "agent.log").read_text()[-2000:]
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 60)
        log.close()
        wipe(runtime)
    assert code == 0, (tmp_path / "agent.log").read_text()[-2000:]
