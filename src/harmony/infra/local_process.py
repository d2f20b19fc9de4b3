"""Run programs on this machine (optionally inside a network namespace) with asyncio subprocesses.

Each program starts in a session (and process group) of its own, so that when the run is cancelled
(Ctrl-C, SIGTERM, a timeout) the whole group is killed — an ``sh -c`` and everything it started — and the
cancellation waits for it: nothing it started goes on after Harmony has given up on it. A program that
daemonizes (``setsid`` again, as dnsmasq and HAProxy do) has left the group and is not touched.

If Harmony itself is killed (SIGKILL: no ``finally`` runs), the group dies with it: every program runs
under a small ``sh`` guard that the kernel signals when Harmony's process dies (``setpriv --pdeathsig``),
and that guard kills its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.errors import CommandError
from harmony.infra.programs import IP, SETPRIV, SH

OUTPUT_LIMIT = 1 << 20
# The guard keeps stdin for the program (an asynchronous list would get /dev/null) and returns its status.
_GUARD_SCRIPT = 'trap "kill -KILL 0" TERM; exec 3<&0; "$@" <&3 3<&- & wait $!'
_SETPRIV = SETPRIV.find()
_SH = SH.find()


def _guarded(argv: Sequence[str]) -> list[str]:
    if _SETPRIV is None or _SH is None:  # both are essential on Debian; without them only a clean exit kills
        return list(argv)
    return [str(_SETPRIV), "--pdeathsig", "TERM", "--", str(_SH), "-c", _GUARD_SCRIPT, "harmony-guard", *argv]


async def run_local(
    argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None, netns: str | None = None
) -> CommandResult:
    """Run ``argv`` and collect its output; inside ``ip netns exec NETNS`` when ``netns`` is given."""
    full = IP.argv("netns", "exec", netns, *argv) if netns else list(argv)
    try:
        if any("\0" in a for a in full):
            raise ValueError("an argument contains a NUL byte")
        _check_program(full[0])
        proc = await asyncio.create_subprocess_exec(
            *_guarded(full),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in an argument
        raise CommandError(" ".join(argv), None, getattr(e, "strerror", None) or str(e)) from e
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError as e:
        await kill_group(proc)
        raise CommandError(" ".join(argv), None, f"timed out after {timeout}s") from e
    except BaseException:
        await kill_group(proc)
        raise
    assert proc.returncode is not None
    return CommandResult(
        argv=tuple(argv),
        exit_status=proc.returncode,
        stdout=out[-OUTPUT_LIMIT:].decode(errors="replace"),
        stderr=err[-OUTPUT_LIMIT:].decode(errors="replace"),
    )


def _check_program(program: str) -> None:
    """Fail like ``exec`` would, before the guard shell would turn it into ``sh: not found`` (status 127)."""
    if shutil.which(program) is None:
        path = Path(program)
        missing = "/" not in program or not path.exists()
        raise FileNotFoundError(
            errno.ENOENT if missing else errno.EACCES, os.strerror(errno.ENOENT if missing else errno.EACCES)
        )


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """Kill ``proc``'s process group (it leads one: ``start_new_session``) and reap ``proc``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    # reaped even while this task is being cancelled, so no transport outlives the event loop
    await asyncio.shield(proc.wait())
