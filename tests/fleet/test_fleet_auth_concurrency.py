"""Concurrent and interrupted changes of the fleet's NATS authorization (``nats-auth.conf``).

Real processes (``harmony fleet register``/``revoke``, and plain Python processes on ``FleetHome``) change
the same fleet home at once while ``harmony fleet server`` (a real nats-server) rereads it; every device
that should be in ends up connecting with its own credentials, every revoked one is refused. A command
killed with SIGKILL mid-way (``HARMONY_CRASH_AT``: the process kills itself at that exact step) leaves a
valid file, the server running on its previous configuration, and the next command repairs what it left.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.domain.errors import KeyValueAuthError
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.enroll import device_options, wait_accepted
from harmony.infra.crash_points import CRASH_AT
from harmony.infra.nats import NatsConnection
from tests.fixtures.ports import free_port
from tests.fleet.test_fleet_cli import HARMONY, ROOT, Operator, wait_until


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Operator]:
    """A fleet home and its ``harmony fleet server``, running."""
    op = Operator(tmp_path)
    try:
        op.run("init", "--port", str(free_port()))
        op.start("server", "server")
        log = tmp_path / "fleet" / "nats.log"
        wait_until(lambda: log.exists() and "Server is ready" in log.read_text())
        assert log.exists() and "Server is ready" in log.read_text(), "fleet server did not start"
        yield op
    finally:
        for name in list(op.procs):
            op.stop(name)


def home_of(op: Operator) -> FleetHome:
    return FleetHome(op.tmp / "fleet")


def identity(op: Operator, device: str) -> Identity:
    return Identity.model_validate_json(home_of(op).device_file(device).read_text())


def users_in_auth(op: Operator) -> set[str]:
    text = home_of(op).auth_file.read_text()
    block = json.loads(text.removeprefix("accounts: "))  # JSON is what the file holds after that prefix
    return {u["user"] for u in block["FLEET"]["users"]}


def accepts(who: Identity) -> None:
    asyncio.run(wait_accepted(who, timeout=30))


def refuses(who: Identity) -> bool:
    async def attempt() -> bool:
        try:
            bus = await NatsConnection.connect(device_options(who))
        except KeyValueAuthError:
            return True
        await bus.close()
        return False

    return asyncio.run(attempt())


def start_cli(op: Operator, *args: str, crash_at: str | None = None) -> subprocess.Popen[str]:
    env = dict(op.env) if crash_at is None else {**op.env, CRASH_AT: crash_at}
    return subprocess.Popen(
        [HARMONY, "fleet", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=180)
    return proc.returncode, out


def test_concurrent_registers_and_revokes_from_the_cli_all_take_effect(served: Operator) -> None:
    op = served
    for old in ("old-0", "old-1", "old-2"):
        op.run("register", old)
    fresh = [f"dev-{i}" for i in range(6)]
    procs = [start_cli(op, "register", d) for d in fresh] + [start_cli(op, "revoke", d) for d in ("old-0", "old-1")]
    results = [finish(p) for p in procs]
    assert all(rc == 0 for rc, _ in results), results

    assert users_in_auth(op) == {"control", "device-old-2", *(f"device-{d}" for d in fresh)}
    for device in [*fresh, "old-2"]:
        accepts(identity(op, device))  # each with its own credentials, once the server reread its file


def test_concurrent_processes_changing_one_home_lose_no_device(served: Operator) -> None:
    """Six processes add 20 devices each and remove every third one they added, all at once."""
    op = served
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from harmony.fleet.credentials import FleetHome\n"
        "home = FleetHome(Path(sys.argv[1]))\n"
        "for i in range(20):\n"
        "    home.add_device(f'p{sys.argv[2]}-{i}')\n"
        "    if i % 3 == 2:\n"
        "        home.remove_device(f'p{sys.argv[2]}-{i - 1}')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(op.tmp / "fleet"), str(n)], cwd=ROOT) for n in range(6)
    ]
    assert [p.wait(180) for p in procs] == [0] * 6

    removed = {i - 1 for i in range(20) if i % 3 == 2}
    kept = {f"p{n}-{i}" for n in range(6) for i in range(20) if i not in removed}
    assert {i.device for i in home_of(op).devices()} == kept
    assert users_in_auth(op) == {"control", *(f"device-{d}" for d in kept)}
    for device in sorted(kept):
        accepts(identity(op, device))


def test_a_register_killed_mid_way_leaves_the_previous_authorization_and_is_repaired(served: Operator) -> None:
    op = served
    op.run("register", "dev-a")
    before = home_of(op).auth_file.read_bytes()

    rc, out = finish(start_cli(op, "register", "dev-b", crash_at="fleet-device-written"))
    assert rc == -signal.SIGKILL, out
    assert home_of(op).device_file("dev-b").exists()  # killed after its identity, before the authorization
    assert home_of(op).auth_file.read_bytes() == before  # the previous, valid file
    assert op.procs["server"].poll() is None
    accepts(identity(op, "dev-a"))
    assert refuses(identity(op, "dev-b"))
    assert not [p for p in (op.tmp / "fleet").iterdir() if p.name.endswith(".tmp")]

    op.run("register", "dev-b")  # the lock died with the killed process; registering again takes it in
    accepts(identity(op, "dev-b"))
    accepts(identity(op, "dev-a"))


def test_a_revoke_killed_mid_way_keeps_the_server_up_and_revoking_again_finishes(served: Operator) -> None:
    op = served
    op.run("register", "dev-a")
    op.run("register", "dev-b")
    gone = identity(op, "dev-a")
    before = home_of(op).auth_file.read_bytes()

    rc, out = finish(start_cli(op, "revoke", "dev-a", crash_at="fleet-device-removed"))
    assert rc == -signal.SIGKILL, out
    assert home_of(op).auth_file.read_bytes() == before
    assert op.procs["server"].poll() is None
    accepts(identity(op, "dev-b"))

    op.run("revoke", "dev-a")  # its identity file is gone, its record and user are not: revoke finishes
    assert users_in_auth(op) == {"control", "device-dev-b"}
    wait_until(lambda: refuses(gone))
    assert refuses(gone)
    accepts(identity(op, "dev-b"))
    assert os.stat(home_of(op).auth_file).st_mode & 0o777 == 0o600


def test_the_authorization_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    """What ``fleet server`` reloads on is a new file: a change that changes nothing makes no reload."""
    home = FleetHome(tmp_path / "fleet")
    home.init(servers=["nats://127.0.0.1:4222"])
    home.add_device("dev-a")
    written = home.auth_file.stat().st_mtime_ns, home.auth_file.stat().st_ino
    home.add_device("dev-a")  # already there
    assert not home.remove_device("dev-gone")  # never there
    home.write_auth()
    assert (home.auth_file.stat().st_mtime_ns, home.auth_file.stat().st_ino) == written
    home.add_device("dev-b")
    assert home.auth_file.stat().st_ino != written[1]
    assert "device-dev-b" in home.auth_file.read_text()
