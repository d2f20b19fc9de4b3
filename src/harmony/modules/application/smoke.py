"""Smoke checks an application's deploy blocks on: an HTTP answer, a TCP connect, or a command that succeeds.

A check is data inside the Score (so a fleet can ship it), run against one concrete endpoint: the new version
*before* it takes traffic, and the public endpoint afterwards (``ApplicationReachable``). ``wait_for`` polls
until the check passes or its ``timeout`` runs out and returns the last observation as evidence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.capabilities.containers import ContainerRuntime
from harmony.domain.capabilities.probes import Prober, ProbeResult
from harmony.domain.units import Duration
from harmony.domain.values import IPAddress, Port

FIRST_WAIT = 0.025  # seconds before the second attempt; doubled up to the check's interval


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: Duration = Field(
        default=timedelta(seconds=20), gt=timedelta(0), description="how long to wait for a pass before giving up"
    )
    interval: Duration = Field(
        default=timedelta(milliseconds=300),
        gt=timedelta(0),
        description="time between attempts (the first few come sooner, from 25 ms doubling up to it)",
    )


class HttpCheck(_Check):
    """GET ``path``: passes on ``expect_status`` and, when given, a body containing ``expect_body``."""

    kind: Literal["http"] = "http"
    path: Annotated[str, Field(pattern=r"^/\S*$")] = "/"
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    expect_body: str | None = None


class TcpCheck(_Check):
    """Passes when a TCP connection to the application's port is accepted."""

    kind: Literal["tcp"] = "tcp"


class CommandCheck(_Check):
    """Passes when ``argv``, run inside the new container, exits 0."""

    kind: Literal["command"] = "command"
    argv: tuple[str, ...] = Field(min_length=1)


type Check = Annotated[HttpCheck | TcpCheck | CommandCheck, Field(discriminator="kind")]


@dataclass(frozen=True)
class Target:
    """Where to look: an address and port for HTTP/TCP, a container for commands, a Host header for HTTP."""

    address: IPAddress
    port: Port
    container: str
    host: str


async def attempt(check: Check, target: Target, *, prober: Prober, runtime: ContainerRuntime) -> ProbeResult:
    """One attempt of ``check``; a failed attempt is a result, not an error."""
    budget = min(check.timeout.total_seconds(), 5.0)
    match check:
        case HttpCheck():
            r = await prober.http_get(target.address, target.port, check.path, host=target.host, timeout=budget)
            if not r.ok:
                return r
            if r.status != check.expect_status:
                return r.model_copy(update={"ok": False, "detail": f"{r.detail} (expected {check.expect_status})"})
            if check.expect_body is not None and check.expect_body not in r.body:
                excerpt = r.body[:200]
                detail = f"{r.detail}, body {excerpt!r} lacks {check.expect_body!r}"
                return r.model_copy(update={"ok": False, "detail": detail})
            return r
        case TcpCheck():
            return await prober.tcp_connect(target.address, target.port, timeout=budget)
        case CommandCheck():
            status, output = await runtime.exec_in_container(target.container, check.argv, timeout=budget)
            shown = " ".join(check.argv)
            return ProbeResult(ok=status == 0, detail=f"`{shown}` in {target.container} exited {status}", body=output)


async def _not_running(runtime: ContainerRuntime, container: str) -> str | None:
    """How ``container`` is, if it no longer runs (no use waiting for it then); ``None`` while it runs."""
    info = await runtime.inspect_container(container)
    if info is None:
        return "is gone"
    return None if info.running else f"exited (exit code {info.exit_code})"


async def wait_for(check: Check, target: Target, *, prober: Prober, runtime: ContainerRuntime) -> ProbeResult:
    """Attempt ``check`` until it passes or ``check.timeout`` has passed; the last result.

    The wait between attempts starts at ``FIRST_WAIT`` and doubles up to ``check.interval``: a container started
    a moment ago usually answers within tens of milliseconds. Whether the container still runs (no use waiting
    for it otherwise) is asked once the waits are whole intervals: a podman process each time."""
    deadline = time.monotonic() + check.timeout.total_seconds()
    interval = check.interval.total_seconds()
    for attempts, wait in enumerate(waits(interval), start=1):
        result = await attempt(check, target, prober=prober, runtime=runtime)
        ask_runtime = not result.ok and wait >= interval and target.container
        if ask_runtime and (gone := await _not_running(runtime, target.container)):
            return result.model_copy(update={"detail": f"{result.detail}; the container {gone}"})
        if result.ok or time.monotonic() + wait > deadline:
            note = f" after {attempts} attempt(s)" if not result.ok else ""
            return result.model_copy(update={"detail": result.detail + note})
        await asyncio.sleep(wait)
    raise AssertionError("waits() never ends")


def waits(interval: float) -> Iterator[float]:
    """The waits after each failed attempt: ``FIRST_WAIT``, doubling, then ``interval`` for ever."""
    wait = min(FIRST_WAIT, interval)
    while True:
        yield wait
        wait = min(wait * 2, interval)
