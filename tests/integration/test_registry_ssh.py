"""The site registry placed on an SSH host of the lab: configured, started and collected through its connector.

The site CA stays on this machine (only the certificate it signs is written to the host); the daemons run
there as that host runs daemons; a build host here pushes to it and a device here pulls by digest.
"""

from __future__ import annotations

import secrets
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.registry import RegistrySettings
from harmony.domain.values import IPv4Address, Port
from harmony.infra.ssh import SshConnector
from harmony.modules.application import BusyboxImage
from harmony.modules.registry import RegistryGarbageCollection, SiteRegistry
from harmony.testing.ssh_lab import SshLab
from harmony.topology.container_host import ContainerHost
from harmony.topology.registry_host import RegistryHost
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.fixtures.registry import BASE, PULLERS, PUSHER, Site, bytes_freed, publish, site_image


async def test_a_registry_on_an_ssh_host_serves_pushes_and_pulls(ssh_lab: SshLab, tmp_path: Path) -> None:
    lab_host = ssh_lab.hosts[0]
    connector = SshConnector(
        name=lab_host.name, address=lab_host.address, key=ssh_lab.key, known_hosts=ssh_lab.known_hosts
    )
    state = PurePosixPath(f"/srv/harmony-registry-{secrets.token_hex(4)}")
    registry = RegistryHost.on(connector, name=lab_host.name, state_dir=state / "state", ca_dir=tmp_path / "site-ca")
    await registry.ensure_ready()
    settings = RegistrySettings(
        address=IPv4Address(lab_host.address), pull_port=Port(free_port()), push_port=Port(free_port()),
        storage=state / "storage", pusher=PUSHER, pullers=PULLERS,
    )  # fmt: skip
    score = SiteRegistry(settings=settings)
    build: ContainerHost | None = None
    device: ContainerHost | None = None
    try:
        assert (await score.interpret().apply(registry, await score.interpret().plan(registry))).ok
        assert await score.interpret().plan(registry) == []
        key = await connector.run_command(["stat", "-c", "%a", str(state / "state" / "server.key")], timeout=30)
        assert key.stdout.strip() == "600"
        ca_there = await connector.run_command(["ls", str(state / "state")], timeout=30)
        assert "ca.key" not in ca_there.stdout  # the CA's key never leaves this machine

        site = Site(registry, settings)
        build = ContainerHost.isolated(
            tmp_path / "build", dns_port=free_port(), name="build", registry_logins=[site.push_login()]
        )
        await build.ensure_ready()
        base = BusyboxImage(ref=BASE, staging_dir=PurePosixPath(tmp_path / "staging"))
        assert (await base.interpret().apply(build, await base.interpret().plan(build))).ok
        v1 = await publish(site, build, site_image(site, tmp_path, body="v1 on the ssh host\n", tag="live"))
        v2 = await publish(site, build, site_image(site, tmp_path, body="v2 on the ssh host\n", tag="live"))

        device = ContainerHost.isolated(
            tmp_path / "device", dns_port=free_port(), name="device", registry_logins=[site.pull_login()]
        )
        await device.ensure_ready()
        pulled = await device.pull_image(v2)  # the id podman printed on the host
        stored = await device.inspect_image(v2)
        assert stored is not None and stored.id == pulled

        gc = RegistryGarbageCollection(keep=())
        (change,) = await gc.interpret().plan(registry)
        assert v1.digest in change.target
        outcome = await gc.interpret().apply(registry, [change])
        assert outcome.ok and bytes_freed(outcome.message) > 0, outcome
        assert [m.digest for m in await registry.stored_manifests()] == [v2.digest]
    finally:
        await registry.stop_registry()
        await connector.run_command(["rm", "-rf", "--", str(state)], timeout=60)
        await registry.close()
        for host in (build, device):
            if host is not None:
                wipe(host.podman)
