"""The run lock of an SSH host is held on the host: a second connection waits or fails naming the holder, and
the lock goes when the holder's connection goes (a killed Harmony cannot leave a host locked)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import PurePosixPath

import pytest

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.errors import HarmonyError, TargetBusyError
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


async def test_reads_under_the_lock_share_its_channel_and_answer_as_on_their_own(ssh_lab: SshLab) -> None:
    """While the lock is held, a batch of reads goes through the holder's channel (no channel of its own) with
    the same answers; a batch given up on (cancelled) leaves the holder to later batches' own channels, whose
    answers are theirs, not the abandoned one's."""
    host = lab_hosts(ssh_lab)[1]
    await host.ensure_ready()
    c = host.connector
    assert isinstance(c, SshConnector)

    async def reads() -> tuple[object, ...]:
        return tuple(
            await asyncio.gather(
                c.read_command(["sh", "-c", "echo out; echo err >&2; exit 3"]),
                c.read_command(["sh", "-c", "printf '%s\\n' \"it's \\$n\"\necho 'two  lines'"]),
                c.read_pids([PurePosixPath("/run/sshd.pid"), PurePosixPath("/run/none.pid")]),
                c.read_directories([PurePosixPath("/etc/ssh"), PurePosixPath("/etc/none")]),
                c.stat_files([PurePosixPath("/etc/hostname"), PurePosixPath("/etc/none")], with_content=True),
            )
        )

    lock = c.run_lock()
    try:
        alone = await reads()
        await lock.acquire(holder("reads"), wait=0, on_wait=never_told)
        channels = c.channels
        under_lock = await reads()
        assert under_lock == alone
        quoted = under_lock[1]
        assert isinstance(quoted, CommandResult) and quoted.stdout == "it's $n\ntwo  lines\n"
        big = await c.read_command(["head", "-c", "3000000", "/dev/zero"])  # larger than the channel's buffer
        assert len(big.stdout) == 3_000_000
        assert c.channels == channels, "the reads opened no channel: the lock's holder answered them"

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.read_command(["sh", "-c", "sleep 2; echo late"]), 0.5)
        after = await c.read_command(["echo", "mine"])
        assert after.stdout == "mine\n"
        assert c.channels == channels + 1, "after a batch given up on, the next one has a channel of its own"
    finally:
        await lock.release()
        await host.close()


async def test_a_dropped_connection_frees_the_lock_while_its_holder_runs_a_read(ssh_lab: SshLab) -> None:
    """A read that never ends, run by the lock's holder, does not keep the host locked once the connection goes
    (Harmony killed): the holder runs under the guard, which kills it with its reads."""
    holding, waiting = lab_hosts(ssh_lab)[1], lab_hosts(ssh_lab)[1]
    marker = f"hm-held-read-{os.getpid()}"
    await holding.ensure_ready()
    c = holding.connector
    assert isinstance(c, SshConnector)
    lock = c.run_lock()
    await lock.acquire(holder("hung-read"), wait=0, on_wait=never_told)
    try:
        hung = asyncio.create_task(c.read_command(["sh", "-c", f"sleep 600; : {marker}"]))
        await asyncio.sleep(1)
        assert not hung.done()
        await holding.close()  # no release: the connection goes, as when Harmony is killed
        with pytest.raises(HarmonyError):
            await hung
        second = waiting.run_lock()
        await second.acquire(holder("after"), wait=30, on_wait=lambda _: None)
        await second.release()
        left = await waiting.run_command(["pgrep", "-f", f"[s]leep 600; : {marker}"])  # not pgrep itself
        assert left.stdout == "", "the holder's read was killed with it"
    finally:
        await holding.close()
        await waiting.close()
