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
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from harmony.domain.capabilities.commands import CommandResult
from harmony.infra.local_process import run_local
from harmony.infra.programs import IP


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


async def spawn_daemon(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    ready: Callable[[], Awaitable[bool]],
    netns: str | None = None,
    timeout: float = 20.0,
) -> str | None:
    """Start a foreground-only daemon detached (own session, output to ``log_file``) and record its pid.

    Waits until ``ready()`` holds. Returns ``None`` when ready, else what went wrong with the log's tail
    (the process is stopped then). The daemon outlives this process, like the self-daemonizing ones.
    """
    full = IP.argv("netns", "exec", netns, *argv) if netns else list(argv)
    await asyncio.to_thread(pid_file.unlink, missing_ok=True)
    try:
        process = await asyncio.to_thread(_popen_detached, full, log_file)
    except OSError as e:
        return f"cannot run {argv[0]}: {e.strerror or e}"
    await asyncio.to_thread(pid_file.write_text, f"{process.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if await ready():
            return None
        await asyncio.sleep(0.05)
    await stop_daemon(pid_file)
    tail = (await asyncio.to_thread(log_file.read_text, errors="replace"))[-1500:]
    state = f"exited with status {process.returncode}" if process.returncode is not None else "was not ready"
    return f"{argv[0]} {state} after start; log {log_file}:\n{tail}"


def _popen_detached(argv: Sequence[str], log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
