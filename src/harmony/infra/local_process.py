"""Run programs on this machine (optionally inside a network namespace) with asyncio subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.errors import CommandError
from harmony.infra.programs import IP

OUTPUT_LIMIT = 1 << 20


async def run_local(
    argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None, netns: str | None = None
) -> CommandResult:
    """Run ``argv`` and collect its output; inside ``ip netns exec NETNS`` when ``netns`` is given."""
    full = IP.argv("netns", "exec", netns, *argv) if netns else list(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *full,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as e:
        raise CommandError(" ".join(argv), None, e.strerror or str(e)) from e
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError as e:
        proc.kill()
        await proc.wait()
        raise CommandError(" ".join(argv), None, f"timed out after {timeout}s") from e
    assert proc.returncode is not None
    return CommandResult(
        argv=tuple(argv),
        exit_status=proc.returncode,
        stdout=out[-OUTPUT_LIMIT:].decode(errors="replace"),
        stderr=err[-OUTPUT_LIMIT:].decode(errors="replace"),
    )
