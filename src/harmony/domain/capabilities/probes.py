"""``Prober``: look at a service from the outside, the way a client would (HTTP GET, TCP connect).

Contract: each call makes one attempt, waits at most ``timeout`` seconds and never raises for what the
service does: a refused connection or a timeout is a ``ProbeResult`` with ``ok=False`` and the reason.
Retrying until a deadline is the caller's job (the smoke tests do it).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from harmony.domain.values import IPAddress, Port


class ProbeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    detail: str
    status: int | None = None
    body: str = ""


class Prober(Protocol):
    async def http_get(self, address: IPAddress, port: Port, path: str, *, host: str, timeout: float) -> ProbeResult:
        """One HTTP/1.0 GET; ``ok`` when a response arrived (whatever its status), with status and body."""
        ...

    async def tcp_connect(self, address: IPAddress, port: Port, *, timeout: float) -> ProbeResult:
        """One TCP connect; ``ok`` when it was accepted."""
        ...
