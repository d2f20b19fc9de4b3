"""``CurlProbe``: the ``Prober`` capability from the target host itself, through its connector.

An application's containers publish on the host's own loopback, which only the host can reach: the smoke
checks run there. HTTP goes through ``curl`` (one request, its status and body); a TCP connect through
bash's ``/dev/tcp`` under ``timeout``. Like ``NetProbe``, a refused connection or a timeout is a result
with ``ok=False``, never an error; only a probe that cannot run at all (no curl) says so in its detail.
"""

from __future__ import annotations

from harmony.domain.capabilities.probes import ProbeResult
from harmony.domain.errors import CommandError
from harmony.domain.values import IPAddress, Port
from harmony.infra.connector import Connector
from harmony.infra.programs import CURL

BODY_LIMIT = 64 * 1024
_MARK = "\n--harmony-probe-status "


class CurlProbe:
    def __init__(self, connector: Connector) -> None:
        self._c = connector

    async def http_get(self, address: IPAddress, port: Port, path: str, *, host: str, timeout: float) -> ProbeResult:
        where = f"http://{address}:{port}{path}"
        url = f"http://{_bracketed(address)}:{int(port)}{path}"
        argv = [CURL.name, "-sS", "--http1.0", "--max-time", f"{timeout:g}", "-H", f"Host: {host}"]
        argv += ["-o", "-", "-w", _MARK.replace("\n", "\\n") + "%{http_code}", url]
        try:
            result = await self._c.run_command(argv, timeout=timeout + 10)
        except CommandError as e:
            return ProbeResult(ok=False, detail=f"GET {where}: the probe could not run: {e}")
        body, _, status = result.stdout.rpartition(_MARK)
        if result.exit_status == 28:
            return ProbeResult(ok=False, detail=f"GET {where}: no answer within {timeout}s")
        if not result.ok or not status.strip().isdigit() or status.strip() == "000":
            reason = result.stderr.strip().removeprefix("curl: ") or f"curl exited {result.exit_status}"
            return ProbeResult(ok=False, detail=f"GET {where}: {reason}")
        code = int(status.strip())
        return ProbeResult(ok=True, detail=f"GET {where}: HTTP {code}", status=code, body=body[:BODY_LIMIT])

    async def tcp_connect(self, address: IPAddress, port: Port, *, timeout: float) -> ProbeResult:
        where = f"connect {address}:{port}"
        argv = ["timeout", f"{timeout:g}", "bash", "-c", 'exec 3<>"/dev/tcp/$0/$1"', str(address), str(int(port))]
        try:
            result = await self._c.run_command(argv, timeout=timeout + 10)
        except CommandError as e:
            return ProbeResult(ok=False, detail=f"{where}: the probe could not run: {e}")
        if result.ok:
            return ProbeResult(ok=True, detail=f"{where}: accepted")
        if result.exit_status == 124:
            return ProbeResult(ok=False, detail=f"{where}: no answer within {timeout}s")
        reason = result.stderr.strip().splitlines()[-1:] or [f"exited {result.exit_status}"]
        return ProbeResult(ok=False, detail=f"{where}: {reason[0].rsplit(': ', 1)[-1]}")


def _bracketed(address: IPAddress) -> str:
    return f"[{address}]" if address.version == 6 else str(address)
