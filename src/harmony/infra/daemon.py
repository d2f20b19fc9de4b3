"""Long-running daemons on this machine (optionally inside a network namespace), tracked by a pid file.

There is no service manager here: the adapters that run dnsmasq and HAProxy start them detached (the
daemon forks and writes its pid file), so they outlive the Harmony run that configured them, and find
them again by pid file on the next run. What is not guaranteed: supervision — a daemon that crashes stays
down until the next apply notices it (``alive`` is false) and starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harmony.domain.capabilities.commands import CommandResult
from harmony.infra.local_process import run_local


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive, else ``None``."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and has not exited (a zombie has released everything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


async def start_daemon(
    argv: Sequence[str], *, pid_file: Path, netns: str | None, timeout: float = 10.0
) -> CommandResult:
    """Run a self-daemonizing ``argv`` and wait until ``pid_file`` names a live process.

    Returns the result of the launching command (a non-zero exit means the daemon refused to start).
    """
    await asyncio.to_thread(pid_file.unlink, missing_ok=True)
    result = await run_local(argv, timeout=timeout, netns=netns)
    if result.ok:
        await poll_until(lambda: read_pid(pid_file) is not None, timeout=timeout)
    return result


async def poll_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.02) -> bool:
    """Wait until ``predicate()`` holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


async def stop_daemon(pid_file: Path, *, timeout: float = 10.0) -> None:
    """SIGTERM the daemon of ``pid_file`` and wait for it to exit (SIGKILL after ``timeout``)."""
    pid = read_pid(pid_file)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    # Wait for the process, not the pid file: a daemon may remove its pid file while still closing sockets.
    if not await poll_until(lambda: not alive(pid), timeout=timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await poll_until(lambda: not alive(pid), timeout=timeout)
    await asyncio.to_thread(pid_file.unlink, missing_ok=True)
