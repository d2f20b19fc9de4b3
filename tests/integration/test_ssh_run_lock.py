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
