"""The run lock of an SSH host is held on the host: a second connection waits or fails naming the holder, and
the lock goes when the holder's connection goes (a killed Harmony cannot leave a host locked)."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from harmony.domain.errors import TargetBusyError
from harmony.domain.topology import LockHolder
from harmony.infra import posix_shell
from harmony.infra.ssh import SshConnector
from harmony.testing.ssh_lab import SshLab
from tests.fixtures.ssh_hosts import lab_hosts


def holder(run_id: str) -> LockHolder:
    return LockHolder(run_id=run_id, pid=os.getpid(), host=socket.gethostname(), started=time.time())


def never_told(_: LockHolder | None) -> None:
    raise AssertionError("wait=0 must not wait")


async def test_an_ssh_host_is_locked_on_the_host_and_released_with_the_connection(ssh_lab: SshLab) -> None:
    first, other_host, *_ = lab_hosts(ssh_lab)
    (second, *_) = lab_hosts(ssh_lab)
    lock = first.run_lock()
    await lock.acquire(holder("run-one"), wait=0, on_wait=never_told)
    try:
        with pytest.raises(TargetBusyError) as refused:
            await second.run_lock().acquire(holder("run-two"), wait=0, on_wait=never_told)
        assert "locked by run run-one" in str(refused.value) and f"pid {os.getpid()}" in str(refused.value)

        other = other_host.run_lock()  # another host is another target
        await other.acquire(holder("run-three"), wait=0, on_wait=never_told)
        await other.release()

        told: list[LockHolder | None] = []
        waits = asyncio.Event()

        def on_wait(h: LockHolder | None) -> None:
            told.append(h)
            waits.set()

        waiting = asyncio.create_task(second.run_lock().acquire(holder("run-two"), wait=None, on_wait=on_wait))
        await asyncio.wait_for(waits.wait(), 60)
        assert told[0] is not None and told[0].run_id == "run-one"
        assert not waiting.done()
        await first.close()  # the connection goes without a release: the lock goes with it
        await asyncio.wait_for(waiting, 60)
    finally:
        await first.close()
        await second.close()
        await other_host.close()


async def test_the_host_drops_a_lock_whose_holder_stops_its_heartbeat(ssh_lab: SshLab) -> None:
    """Harmony's machine vanished with the connection still open on the host's side: the lock goes after
    ``expiry`` seconds without a heartbeat line, and not while heartbeats arrive."""
    holding, waiting = lab_hosts(ssh_lab)[2], lab_hosts(ssh_lab)[2]
    await holding.ensure_ready()
    connector = holding.connector
    assert isinstance(connector, SshConnector)
    argv = posix_shell.run_lock_argv(holder("silent").model_dump_json(), expiry=2)
    proc = await connector.connection.create_process(connector.command_line(argv), encoding=None)
    try:
        assert await proc.stdout.readline() == b"locked\n"
        for _ in range(8):  # 4 s of heartbeats: twice the expiry, and the lock is still held
            proc.stdin.write(b".\n")
            await asyncio.sleep(0.5)
        with pytest.raises(TargetBusyError, match="run silent"):
            await waiting.run_lock().acquire(holder("run-two"), wait=0, on_wait=never_told)
        # Silence, with the channel still open: the host drops the lock by itself.
        lock = waiting.run_lock()
        await lock.acquire(holder("run-two"), wait=60, on_wait=lambda _: None)
        await lock.release()
    finally:
        proc.close()
        await holding.close()
        await waiting.close()
