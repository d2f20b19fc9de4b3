"""``NetProbe``: the ``Prober`` capability from this machine, with asyncio streams (no HTTP library needed)."""

from __future__ import annotations

import asyncio

from harmony.domain.capabilities.probes import ProbeResult
from harmony.domain.values import IPAddress, Port

BODY_LIMIT = 64 * 1024


class NetProbe:
    async def http_get(self, address: IPAddress, port: Port, path: str, *, host: str, timeout: float) -> ProbeResult:
        where = f"http://{address}:{port}{path}"
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(str(address), int(port))
                try:
                    writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    await writer.drain()
                    raw = await reader.read(BODY_LIMIT)
                    while len(raw) < BODY_LIMIT and (more := await reader.read(BODY_LIMIT - len(raw))):
                        raw += more
                finally:
                    writer.close()
        except TimeoutError:
            return ProbeResult(ok=False, detail=f"GET {where}: no answer within {timeout}s")
        except OSError as e:
            return ProbeResult(ok=False, detail=f"GET {where}: {e.strerror or e}")
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return ProbeResult(ok=False, detail=f"GET {where}: not an HTTP response: {status_line[:80]!r}")
        text = body.decode(errors="replace")
        return ProbeResult(ok=True, detail=f"GET {where}: {status_line}", status=int(parts[1]), body=text)

    async def tcp_connect(self, address: IPAddress, port: Port, *, timeout: float) -> ProbeResult:
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(str(address), int(port))
                writer.close()
        except TimeoutError:
            return ProbeResult(ok=False, detail=f"connect {address}:{port}: no answer within {timeout}s")
        except OSError as e:
            return ProbeResult(ok=False, detail=f"connect {address}:{port}: {e.strerror or e}")
        return ProbeResult(ok=True, detail=f"connect {address}:{port}: accepted")
