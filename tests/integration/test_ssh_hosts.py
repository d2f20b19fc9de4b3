"""The host Scores on real SSH hosts (namespace lab) plus the local host: first apply SUCCESS on every host,
second apply NOOP, reads batched into one round trip, and each host checked over its own connection."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.units import FileMode
from harmony.maestro.fanout import run_group
from harmony.maestro.runner import Maestro
from harmony.modules.commands import Command, sh
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink, UploadedFile, render_template
from harmony.modules.packages import DebianPackage
from harmony.modules.users import Group, User
from harmony.testing import converge_on_hosts
from harmony.testing.ssh_lab import SshLab
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.apt_repo import TEST_PACKAGE
from tests.fixtures.ssh_hosts import lab_hosts


async def read(host: LinuxHost, path: str) -> str:
    result = await host.run_command(["cat", path])
    return result.stdout if result.ok else f"<missing: {result.stderr.strip()}>"


def file_scores(base: PurePosixPath, upload: Path) -> list[Score[LinuxHost]]:
    return [
        ManagedDirectory(path=base, mode=FileMode("0755")),
        ManagedFile(
            path=base / "app.conf",
            content=render_template("site = {{ site }}\nworkers = {{ workers }}\n", {"site": "lab", "workers": 4}),
            mode=FileMode("0640"),
        ),
        UploadedFile(source=upload, path=base / "logo.bin", mode=FileMode("0644")),
        Symlink(path=base / "current", target=str(base / "app.conf")),
        Command(argv=sh(f"echo built > {base}/stamp"), creates=base / "stamp", label="build stamp"),
    ]


async def test_file_scores_on_three_ssh_hosts_and_the_local_host(ssh_lab: SshLab, tmp_path: Path) -> None:
    base = PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}")
    upload = tmp_path / "logo.bin"
    upload.write_bytes(bytes(range(256)) * 4)
    local_root = tmp_path / "local-root"
    (local_root / "srv").mkdir(parents=True)
    remote = lab_hosts(ssh_lab)
    # The local host is re-rooted for its files; its Command writes the real path, so give it its own Scores
    # through a second group run below.
    group = HostGroup(hosts=remote, parallelism=2)
    scores = file_scores(base, upload)

    first = await run_group(group, scores, mode="apply")
    assert first.status is Status.SUCCESS, [(h.host, h.report and h.report.error) for h in first.hosts]
    assert [h.status for h in first.hosts] == [Status.SUCCESS] * 3

    for host in lab_hosts(ssh_lab):
        await host.ensure_ready()
        assert await read(host, f"{base}/app.conf") == "site = lab\nworkers = 4\n"
        assert (await host.run_command(["readlink", f"{base}/current"])).stdout.strip() == f"{base}/app.conf"
        assert (await host.run_command(["stat", "-c", "%a", f"{base}/app.conf"])).stdout.strip() == "640"
        assert (await host.run_command(["cmp", f"{base}/logo.bin", "-"], stdin=upload.read_bytes())).ok
        assert await read(host, f"{base}/stamp") == "built\n"
        await host.close()
    assert not os.path.exists(str(base)), "lab hosts must not write to this machine's /srv"

    second = await run_group(group, scores, mode="apply")
    assert [h.status for h in second.hosts] == [Status.NOOP] * 3

    local = LinuxHost.local(root=local_root, name="local")
    local_scores = [s for s in scores if not isinstance(s, Command)]
    assert (await Maestro(local).apply(local_scores)).status is Status.SUCCESS
    assert (local_root / base.relative_to("/") / "app.conf").read_text() == "site = lab\nworkers = 4\n"
    assert (await Maestro(local).apply(local_scores)).status is Status.NOOP


async def test_the_reads_of_all_plans_go_to_a_host_in_one_round_trip(ssh_lab: SshLab) -> None:
    host = lab_hosts(ssh_lab)[0]
    base = PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}")
    scores = [ManagedFile(path=base / f"f{i}", content=f"{i}\n") for i in range(20)]
    report = await Maestro(host).plan(scores)
    assert report.status is Status.SUCCESS
    assert all(len(r.changes) == 1 for r in report.results)
    assert host.connector.round_trips == 1  # type: ignore[attr-defined]  # SshConnector: the lab host is SSH


async def test_users_and_groups(ssh_lab: SshLab) -> None:
    first_host, other_host, _ = lab_hosts(ssh_lab)
    name = f"hm{secrets.token_hex(3)}"
    scores: list[Score[LinuxHost]] = [
        Group(group=f"{name}g", gid=23456),
        User(user=name, groups=(f"{name}g",), shell="/bin/sh", comment="deploy user"),
    ]
    assert (await Maestro(first_host).apply(scores)).status is Status.SUCCESS
    await first_host.ensure_ready()
    accounts = await first_host.accounts()
    await first_host.close()
    assert accounts.users[name].shell == "/bin/sh"
    assert accounts.groups[f"{name}g"].gid == 23456
    assert accounts.groups_of(name) == {f"{name}g"}
    assert (await Maestro(first_host).apply(scores)).status is Status.NOOP

    await other_host.ensure_ready()
    assert name not in (await other_host.accounts()).users, "accounts must stay on the host they were made on"
    await other_host.close()

    changed = [User(user=name, groups=(), shell="/bin/bash")]
    report = await Maestro(first_host).apply(changed)
    assert report.status is Status.SUCCESS
    assert "groups" in report.results[0].changes[0].diff
    removed = [User(user=name, present=False), Group(group=f"{name}g", present=False)]
    assert (await Maestro(first_host).apply(removed)).status is Status.SUCCESS
    assert (await Maestro(first_host).apply(removed)).status is Status.NOOP


async def test_debian_package_installed_pinned_and_absent(ssh_lab: SshLab) -> None:
    host = lab_hosts(ssh_lab)[2]
    update = Command(argv=("apt-get", "update", "-q"), unless=sh(f"apt-cache show {TEST_PACKAGE} >/dev/null 2>&1"))
    steps: list[tuple[list[Score[LinuxHost]], str | None]] = [
        ([update, DebianPackage(package=TEST_PACKAGE, version="1.0")], "1.0"),
        ([DebianPackage(package=TEST_PACKAGE, version="2.0")], "2.0"),
        ([DebianPackage(package=TEST_PACKAGE, version="1.0")], "1.0"),  # a pin also downgrades
        ([DebianPackage(package=TEST_PACKAGE, state="absent")], None),
    ]
    for scores, version in steps:
        report = await Maestro(host).apply(scores)
        assert report.status is Status.SUCCESS, report.error or [r.outcome for r in report.results]
        await host.ensure_ready()
        assert (await host.installed_versions([TEST_PACKAGE]))[TEST_PACKAGE] == version
        await host.close()
        assert (await Maestro(host).apply(scores)).status is Status.NOOP


async def test_become_through_sudo(ssh_lab: SshLab) -> None:
    inv = ssh_lab.inventory(user="hmsudo").hosts[1]
    host = LinuxHost.from_inventory(inv, known_hosts=ssh_lab.known_hosts)
    path = PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}.conf")
    report = await Maestro(host).apply(
        [ManagedFile(path=path, content="via sudo\n", owner="root", mode=FileMode("0600"))]
    )
    assert report.status is Status.SUCCESS, report.error
    await host.ensure_ready()
    state = (await host.stat_files([path], with_content=True))[path]
    await host.close()
    assert (state.owner, state.mode, state.content) == ("root", 0o600, b"via sudo\n")


@pytest.fixture
def ssh_agent(ssh_lab: SshLab, tmp_path: Path) -> Iterator[Path]:
    """A real ssh-agent holding the lab key; yields its socket."""
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        subprocess.run(["ssh-add", "-q", str(ssh_lab.key)], env=env, check=True, capture_output=True)
        yield socket_path
    finally:
        agent.terminate()
        agent.wait()


async def test_authentication_through_the_ssh_agent(
    ssh_lab: SshLab, ssh_agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", str(ssh_agent))
    monkeypatch.setenv("HOME", str(tmp_path))  # no default key files: only the agent can authenticate
    inv = ssh_lab.inventory().hosts[0].model_copy(update={"key": None})
    host = LinuxHost.from_inventory(inv, known_hosts=ssh_lab.known_hosts)
    await host.ensure_ready()
    whoami = await host.run_command(["id", "-un"])
    await host.close()
    assert whoami.stdout.strip() == "root"


async def test_a_large_upload_is_compared_whole(ssh_lab: SshLab, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 << 20))  # larger than any output limit on command results
    host = lab_hosts(ssh_lab)[2]
    score = [UploadedFile(source=source, path=PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}.bin"))]
    assert (await Maestro(host).apply(score)).status is Status.SUCCESS
    assert (await Maestro(host).apply(score)).status is Status.NOOP


async def test_converge_on_hosts_helper(ssh_lab: SshLab) -> None:
    path = PurePosixPath(f"/srv/hm-{secrets.token_hex(3)}.txt")
    deployment = HostGroup(hosts=lab_hosts(ssh_lab)).deploy([ManagedFile(path=path, content="converged\n")])
    first, second = await converge_on_hosts(deployment)
    assert [h.status for h in first.hosts] == [Status.SUCCESS] * 3
    assert [h.status for h in second.hosts] == [Status.NOOP] * 3
