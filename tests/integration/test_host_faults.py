"""Real faults on SSH hosts, each a clear FAILURE of that host only, with the cause, and nothing half-written."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.errors import HostAuthError
from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.values import Port, ip_address
from harmony.infra.ssh import SshConnector
from harmony.maestro.fanout import run_group
from harmony.maestro.runner import Maestro
from harmony.modules.files import ManagedFile
from harmony.testing.ssh_lab import PLAIN_USER, SshLab
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.ssh_hosts import lab_hosts


@pytest.fixture
def wrong_key(tmp_path: Path) -> Path:
    key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


async def test_each_failing_host_fails_alone_with_its_cause(ssh_lab: SshLab, tmp_path: Path, wrong_key: Path) -> None:
    inv = ssh_lab.inventory().hosts
    address = ip_address(str(inv[0].address))
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    hosts = [
        LinuxHost.from_inventory(inv[0], known_hosts=ssh_lab.known_hosts),
        LinuxHost.ssh(address, name="refused", port=Port(2222), key=ssh_lab.key, known_hosts=ssh_lab.known_hosts),
        LinuxHost.ssh(address, name="wrong-key", key=wrong_key, known_hosts=ssh_lab.known_hosts),
        LinuxHost.ssh(address, name="unknown-host-key", key=ssh_lab.key, known_hosts=empty_known_hosts),
        LinuxHost.ssh(address, name="no-sudo", user=PLAIN_USER, key=ssh_lab.key, known_hosts=ssh_lab.known_hosts),
    ]
    path = PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}.txt")
    report = await run_group(HostGroup(hosts=hosts), [ManagedFile(path=path, content="x\n")], mode="apply")

    by_host = {h.host: h for h in report.hosts}
    assert by_host["lab0"].status is Status.SUCCESS
    errors = {name: (run.report.error if run.report else None) or "" for name, run in by_host.items()}
    assert all(by_host[n].status is Status.FAILURE for n in errors if n != "lab0")
    assert "Connection refused" in errors["refused"]
    assert "rejected our key" in errors["wrong-key"]
    assert "host key" in errors["unknown-host-key"]
    assert "not known" in errors["unknown-host-key"]
    assert f"sudo refused for user {PLAIN_USER}" in errors["no-sudo"]
    assert "password is required" in errors["no-sudo"]
    assert report.status is Status.FAILURE


async def test_stop_on_failure_skips_the_hosts_not_yet_started(ssh_lab: SshLab) -> None:
    address = ip_address(str(ssh_lab.inventory().hosts[0].address))
    unreachable = LinuxHost.ssh(address, name="refused", port=Port(2222), known_hosts=ssh_lab.known_hosts)
    group = HostGroup(hosts=[unreachable, *lab_hosts(ssh_lab)], parallelism=1, stop_on_failure=True)
    report = await run_group(group, [ManagedFile(path=PurePosixPath("/srv/never"), content="")], mode="apply")
    assert report.hosts[0].status is Status.FAILURE
    assert [h.skipped is not None for h in report.hosts[1:]] == [True, True, True]


async def test_a_read_only_mount_fails_the_write_and_leaves_no_file(ssh_lab: SshLab) -> None:
    host = lab_hosts(ssh_lab)[0]
    path = PurePosixPath("/srv/readonly/motd")
    report = await Maestro(host).apply([ManagedFile(path=path, content="hello\n")])
    assert report.status is Status.FAILURE
    outcome = report.results[0].outcome
    assert outcome is not None
    assert "Read-only file system" in outcome.message
    await host.ensure_ready()
    listing = await host.run_command(["ls", "-A", "/srv/readonly"])
    await host.close()
    assert listing.stdout == ""


async def test_a_write_that_fails_half_way_keeps_the_old_file_whole(ssh_lab: SshLab) -> None:
    host = lab_hosts(ssh_lab)[1]
    directory = PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}")
    path = directory / "app.conf"
    await host.ensure_ready()
    await host.make_directory(directory, mode=None, owner=None, group=None)
    await host.write_file(path, b"old\n", mode=0o644, owner=None, group=None)
    await host.close()

    # The content is written to a temporary file first; chown to a missing user then fails before the rename.
    report = await Maestro(host).apply([ManagedFile(path=path, content="new\n", owner="nosuchuser")])
    assert report.status is Status.FAILURE
    outcome = report.results[0].outcome
    assert outcome is not None
    assert "nosuchuser" in outcome.message

    await host.ensure_ready()
    state = (await host.stat_files([path], with_content=True))[path]
    leftovers = (await host.run_command(["ls", "-A", str(directory)])).stdout.split()
    await host.close()
    assert state.content == b"old\n"
    assert leftovers == ["app.conf"]


async def test_the_explicit_lab_opt_out_accepts_an_unknown_host_key(ssh_lab: SshLab, tmp_path: Path) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    address = ip_address(str(ssh_lab.inventory().hosts[1].address))
    checked = LinuxHost.ssh(address, key=ssh_lab.key, known_hosts=empty_known_hosts)
    unchecked = LinuxHost.ssh(address, key=ssh_lab.key, known_hosts=empty_known_hosts, check_host_key=False)
    with pytest.raises(HostAuthError, match="not known"):
        await checked.ensure_ready()
    await unchecked.ensure_ready()
    result = await unchecked.run_command(["cat", "/etc/hostname"])
    await unchecked.close()
    assert result.stdout == "lab1\n"


async def test_a_host_key_added_to_known_hosts_is_trusted_at_the_next_connection(
    ssh_lab: SshLab, tmp_path: Path
) -> None:
    """known_hosts is parsed once per version of the file (not once per connection): an edit is still seen."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    address = ip_address(str(ssh_lab.inventory().hosts[1].address))
    with pytest.raises(HostAuthError, match="not known"):
        await LinuxHost.ssh(address, key=ssh_lab.key, known_hosts=known_hosts).ensure_ready()
    known_hosts.write_text(ssh_lab.known_hosts.read_text())
    host = LinuxHost.ssh(address, key=ssh_lab.key, known_hosts=known_hosts)
    await host.ensure_ready()
    result = await host.run_command(["cat", "/etc/hostname"])
    await host.close()
    assert result.stdout == "lab1\n"
    known_hosts.write_text("")
    with pytest.raises(HostAuthError, match="not known"):
        await LinuxHost.ssh(address, key=ssh_lab.key, known_hosts=known_hosts).ensure_ready()


async def test_a_client_key_replaced_on_disk_is_used_at_the_next_connection(
    ssh_lab: SshLab, tmp_path: Path, wrong_key: Path
) -> None:
    """The client key is loaded once per version of the file (not once per connection): a new key is seen."""
    key = tmp_path / "key"
    key.write_bytes(ssh_lab.key.read_bytes())
    address = ip_address(str(ssh_lab.inventory().hosts[1].address))
    host = LinuxHost.ssh(address, key=key, known_hosts=ssh_lab.known_hosts)
    await host.ensure_ready()
    await host.close()
    key.write_bytes(wrong_key.read_bytes())
    with pytest.raises(HostAuthError, match="rejected our key"):
        await LinuxHost.ssh(address, key=key, known_hosts=ssh_lab.known_hosts).ensure_ready()


async def test_the_connection_is_encrypted_with_aes_gcm(ssh_lab: SshLab) -> None:
    """AES-GCM is asked for first (cheaper than asyncssh's default chacha20-poly1305 on both sides)."""
    lab_host = ssh_lab.hosts[1]
    connector = SshConnector(
        name=lab_host.name, address=lab_host.address, key=ssh_lab.key, known_hosts=ssh_lab.known_hosts
    )
    await connector.open()
    try:
        ciphers = {connector.connection.get_extra_info(side) for side in ("send_cipher", "recv_cipher")}
    finally:
        await connector.close()
    assert ciphers == {"aes256-gcm@openssh.com"}
