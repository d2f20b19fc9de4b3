"""Small HTTP calls to the local daemons' APIs (Prometheus, Alertmanager, exporters), standard library only."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

from harmony.domain.errors import CapabilityError


class HttpCallError(CapabilityError):
    """No answer, or an error status; ``status`` is ``None`` when nothing answered."""

    def __init__(self, url: str, status: int | None, detail: str) -> None:
        self.url = url
        self.status = status
        self.detail = detail
        super().__init__(f"{url}: {f'HTTP {status}: ' if status else ''}{detail}")


def _call(url: str, method: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as e:
        raise HttpCallError(url, e.code, e.read().decode(errors="replace").strip()[:1000]) from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise HttpCallError(url, None, str(reason)) from e


async def http_call(url: str, *, method: str = "GET", timeout: float = 5.0) -> bytes:
    """The body of a 2xx answer; ``HttpCallError`` otherwise."""
    return await asyncio.to_thread(_call, url, method, timeout)


async def answers(url: str, *, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 2xx (a readiness probe)."""
    try:
        await http_call(url, timeout=timeout)
    except HttpCallError:
        return False
    return True
