"""What adapters do through a connector, for real on the three kinds: this machine, a network namespace on
it, and an SSH lab host. Reads of one tick are one round trip over SSH; pid-file daemons start, report
their pid, fail with their last log lines, and stop; lab hosts keep ``/run`` and ``/var/lib`` private;
systemd units render to files ``systemd-analyze verify`` accepts."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.errors import CommandError
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, PidFileDaemons, SystemdDaemons, daemons_on, render_unit
from harmony.infra.local_connector import LocalConnector
from harmony.infra.ssh import SshConnector
from harmony.testing.ssh_lab import SshLab
from tests.fixtures.netns import Lan
from tests.fixtures.ssh_hosts import lab_hosts

P = PurePosixPath


@pytest.fixture(params=["local", "netns", "ssh"])
async def connector(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Connector, P]]:
    """A connector of each kind and a fresh directory on its target."""
    kind: str = request.param
    base = P(f"/srv/hm-conn-{secrets.token_hex(3)}") if kind == "ssh" else P(str(tmp_path / "target"))
    if kind == "ssh":
        lab: SshLab = request.getfixturevalue("ssh_lab")
        c: Connector = lab_hosts(lab)[0].connector
    elif kind == "netns":
        lan: Lan = request.getfixturevalue("lan")
        c = LocalConnector(name="ns", netns=lan.router)
    else:
        c = LocalConnector(name="local")
    await c.open()
    assert (await c.run_command(["mkdir", "-p", str(base)])).ok
    try:
        yield c, base
    finally:
        await c.run_command(["rm", "-rf", str(base)])
        await c.close()


async def test_reads_of_one_tick_are_one_round_trip(connector: tuple[Connector, P]) -> None:
    c, base = connector
    await c.make_directory(base / "conf.d", mode=0o755, owner=None, group=None)
    await c.write_file(base / "conf.d" / "a.conf", b"alpha\n", mode=0o600, owner=None, group=None)
    await c.write_file(base / "conf.d" / "empty.conf", b"", mode=None, owner=None, group=None)
    await c.write_file(base / "conf.d" / ".hidden", b"x", mode=None, owner=None, group=None)
    sleeper = await c.run_command(["sh", "-c", f"sleep 60 >/dev/null 2>&1 & echo $! > {base}/live.pid"])
    assert sleeper.ok
    await c.write_file(base / "dead.pid", b"999999999\n", mode=None, owner=None, group=None)
    before = c.round_trips if isinstance(c, SshConnector) else None

    files, pids, dirs = await asyncio.gather(
        c.stat_files([base / "conf.d" / "a.conf", base / "nope"], with_content=True),
        c.read_pids([base / "live.pid", base / "dead.pid", base / "missing.pid"]),
        c.read_directories([base / "conf.d", base / "absent"]),
    )

    if isinstance(c, SshConnector):
        assert before is not None and c.round_trips == before + 1
    assert files[base / "conf.d" / "a.conf"].content == b"alpha\n"
    assert files[base / "conf.d" / "a.conf"].mode == 0o600
    assert files[base / "nope"].kind == "missing"
    live = pids[base / "live.pid"]
    assert live is not None and pids[base / "dead.pid"] is None and pids[base / "missing.pid"] is None
    assert dirs[base / "conf.d"] == {"a.conf": b"alpha\n", "empty.conf": b""}
    assert dirs[base / "absent"] is None
    await c.run_command(["kill", str(live)])


async def test_commands_that_only_read_join_the_round_trip_of_the_file_reads(connector: tuple[Connector, P]) -> None:
    c, base = connector
    await c.write_file(base / "a.conf", b"alpha\n", mode=None, owner=None, group=None)
    before = dict(c.execs) if isinstance(c, SshConnector) else None

    files, listing, failing, quoted = await asyncio.gather(
        c.stat_files([base / "a.conf"], with_content=True),
        c.read_command(["ls", "-1", str(base)]),
        c.read_command(["sh", "-c", "echo out; echo 'the reason' >&2; exit 3"]),
        c.read_command(["printf", "%s|%s\n\n", "it's", "a b"]),
    )

    if isinstance(c, SshConnector):
        assert before is not None
        spent = {k: n - before.get(k, 0) for k, n in c.execs.items() if n != before.get(k, 0)}
        assert spent == {"read": 1}, "the file read and the three commands: one exec channel"
    assert files[base / "a.conf"].content == b"alpha\n"
    assert listing.ok and listing.stdout == "a.conf\n"
    assert (failing.exit_status, failing.stdout, failing.stderr) == (3, "out\n", "the reason\n")
    assert quoted.stdout == "it's|a b\n\n", "arguments and trailing newlines arrive as given"
    with pytest.raises(CommandError, match="timed out"):
        await c.read_command(["sleep", "30"], timeout=1)


async def test_pid_file_daemon_starts_reports_its_pid_and_stops(connector: tuple[Connector, P]) -> None:
    c, base = connector
    daemons = await daemons_on(c)
    assert isinstance(daemons, PidFileDaemons), "no test target runs systemd as PID 1"
    pid_file = base / "d.pid"
    daemon = Daemon(
        name=f"harmony-test-{secrets.token_hex(3)}",
        argv=("/bin/sh", "-c", f"sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}"),
        pid_file=pid_file,
    )
    assert await daemons.pid(daemon) is None
    assert await daemons.start(daemon) is None
    pid = await daemons.pid(daemon)
    assert pid is not None
    if c.netns is not None:
        where = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=True)
        assert where.stdout.strip() == c.netns, "the daemon runs inside the connector's namespace"
    await daemons.stop(daemon)
    assert await daemons.pid(daemon) is None
    assert (await c.stat_files([pid_file], with_content=False))[pid_file].kind == "missing"
    await daemons.stop(daemon)  # stopping a stopped daemon is fine


async def test_a_daemon_that_fails_to_start_reports_its_last_log_lines(connector: tuple[Connector, P]) -> None:
    c, base = connector
    log = base / "d.log"
    daemon = Daemon(
        name="harmony-test-broken",
        argv=("/bin/sh", "-c", f"echo 'starting' >> {log}; echo 'bind 10.0.0.1:53: address in use' >> {log}; exit 2"),
        pid_file=base / "d.pid",
        log_file=log,
    )
    why = await PidFileDaemons(c).start(daemon, timeout=2)
    assert why is not None
    assert "exited 2" in why
    assert "bind 10.0.0.1:53: address in use" in why


async def test_lab_hosts_have_private_run_and_var_lib(ssh_lab: SshLab) -> None:
    a, b = lab_hosts(ssh_lab)[:2]
    token = secrets.token_hex(3)
    for host in (a, b):
        await host.ensure_ready()
    try:
        for d in ("/run", "/var/lib"):
            assert (await a.run_command(["sh", "-c", f"echo a > {d}/hm-{token}"])).ok
            assert (await b.run_command(["test", "-e", f"{d}/hm-{token}"])).exit_status == 1, f"{d} is shared"
            assert not Path(f"{d}/hm-{token}").exists(), f"{d} of a lab host is this machine's"
        assert (await a.run_command(["test", "-d", "/var/lib/dpkg"])).ok, "the lab host keeps its dpkg state"
    finally:
        for host in (a, b):
            await host.close()


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    daemon = Daemon(
        name="harmony-dnsmasq-test",
        argv=("/usr/sbin/dnsmasq", "--conf-file=/var/lib/harmony/edge/dnsmasq.conf", "--x=50%$HOME"),
        pid_file=P("/var/lib/harmony/edge/dnsmasq.pid"),
        description="dnsmasq for the edge",
    )
    for netns in (None, "router"):
        unit = tmp_path / f"{daemon.name}.service"
        unit.write_text(render_unit(daemon, netns=netns))
        check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
        assert check.returncode == 0 and check.stderr.strip() == "", check.stderr
    text = render_unit(daemon, netns="router")
    assert 'ExecStart="/usr/sbin/dnsmasq" "--conf-file=/var/lib/harmony/edge/dnsmasq.conf" "--x=50%%$$HOME"' in text
    assert "NetworkNamespacePath=/run/netns/router" in text
    assert "PIDFile=/var/lib/harmony/edge/dnsmasq.pid" in text


async def test_systemd_is_chosen_from_what_the_target_reports(tmp_path: Path) -> None:
    sandbox = LocalConnector(name="sandbox", root=tmp_path)
    assert isinstance(await daemons_on(sandbox), PidFileDaemons)
    (tmp_path / "run" / "systemd" / "system").mkdir(parents=True)
    assert isinstance(await daemons_on(sandbox), SystemdDaemons)
