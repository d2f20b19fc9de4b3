"""A blue-green switch through HAProxy's runtime API, for real: a new backend is added (and an old one
deleted) in the running proxy without ``haproxy -c`` or a reload, the frontend's file agrees so a reload shows
the same state, and when the runtime API cannot do it the validated reload takes over — nothing half-applied.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.errors import LoadBalancerError
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.values import IPv4Address, Port
from harmony.topology.edge_router import EdgeRouter
from tests.fixtures.edge import HttpBackend, get, haproxy_master, haproxy_reloads
from tests.fixtures.ports import free_port

N = ResourceName
WEB = N("web")
LOCALHOST = IPv4Address("127.0.0.1")


def backend(b: HttpBackend) -> Backend:
    return Backend(name=N(b.name), address=LOCALHOST, port=Port(b.port))


def blue_only(port: int, backends: dict[str, HttpBackend]) -> Frontend:
    return Frontend(
        name=WEB,
        address=LOCALHOST,
        port=Port(port),
        backends=non_empty([backend(backends["blue"])], "backends"),
        health_check=HealthCheck(protocol="http", path="/", interval=timedelta(milliseconds=200), rise=1, fall=2),
    )


async def master(router: EdgeRouter, command: str) -> str:
    return await haproxy_master(router.haproxy, command)


async def proxy_state(router: EdgeRouter) -> tuple[int | None, int]:
    return await haproxy_reloads(router.haproxy)


async def reload(router: EdgeRouter) -> None:
    """What a restart of the host or the next configuration change does: HAProxy reads the files again."""
    before, _ = await proxy_state(router)
    await master(router, "reload")
    for _ in range(500):
        await asyncio.sleep(0.02)
        worker, _ = await proxy_state(router)
        if worker is not None and worker != before:
            return
    pytest.fail("HAProxy brought up no new worker after the reload")


async def answers(port: int, count: int = 8) -> set[str]:
    return {await asyncio.to_thread(get, f"http://127.0.0.1:{port}/") for _ in range(count)}


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def file_of(router: EdgeRouter) -> Path:
    return Path(router.haproxy.state_dir / "haproxy.d" / "fe-web.cfg")


async def test_a_new_backend_serves_and_an_old_one_goes_without_a_reload(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    await loopback_router.put_frontend(blue_only(port, http_backends))
    started = await proxy_state(loopback_router)

    await loopback_router.add_backend(WEB, backend(http_backends["green"]))
    assert await answers(port) == {"blue", "green"}
    assert await proxy_state(loopback_router) == started, "adding a backend must not reload HAProxy"
    (declared,) = await loopback_router.frontends()
    assert [b.name for b in declared.backends] == ["blue", "green"]
    assert (
        f"server green 127.0.0.1:{http_backends['green'].port} weight 1 check" in file_of(loopback_router).read_text()
    )

    await loopback_router.remove_backend(WEB, N("blue"), grace=5)
    assert await answers(port) == {"green"}
    assert await proxy_state(loopback_router) == started, "removing a backend that holds no connection must not reload"
    assert "server blue" not in file_of(loopback_router).read_text()

    # The file says what the running proxy does: after a reload, the same backends serve.
    await reload(loopback_router)
    assert await answers(port) == {"green"}
    (declared,) = await loopback_router.frontends()
    assert [b.name for b in declared.backends] == ["green"]
    states = await loopback_router.backend_states(WEB)
    assert [(s.name, s.state) for s in states] == [("green", "active")]


async def test_an_add_server_haproxy_refuses_goes_the_validated_reload_way(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    await loopback_router.put_frontend(blue_only(port, http_backends))
    # A server named green exists in the running proxy but not in the file (added by hand, pointing nowhere):
    # HAProxy refuses a second "add server web/green", for real.
    nowhere = free_port()
    haproxy = loopback_router.haproxy
    assert (await haproxy.runtime(f"add server web/green 127.0.0.1:{nowhere} weight 1")).strip() == (
        "New server registered."
    )
    await haproxy.runtime("enable server web/green")
    _, reloads = await proxy_state(loopback_router)

    await loopback_router.add_backend(WEB, backend(http_backends["green"]))
    worker, reloaded = await proxy_state(loopback_router)
    assert reloaded == reloads + 1, "the refused runtime change must fall back to one validated reload"
    assert await answers(port) == {"blue", "green"}, "the declared green (not the one by hand) serves"
    assert f"server green 127.0.0.1:{http_backends['green'].port} " in file_of(loopback_router).read_text()
    assert worker is not None


@pytest.fixture
async def full_disk_router(tmp_path: Path) -> AsyncIterator[tuple[EdgeRouter, Path]]:
    """A router whose state directory is a small tmpfs: the test fills it to make a file write fail (ENOSPC)."""
    state = tmp_path / "edge"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(state)], check=True)
    router = EdgeRouter(name="loopback", state_dir=state)
    try:
        yield router, state
    finally:
        await router.stop()
        subprocess.run(["umount", str(state)], check=True)


async def test_a_runtime_add_whose_file_cannot_be_written_is_taken_back_out(
    full_disk_router: tuple[EdgeRouter, Path], http_backends: dict[str, HttpBackend]
) -> None:
    router, state = full_disk_router
    port = free_port()
    await router.put_frontend(blue_only(port, http_backends))
    started = await proxy_state(router)
    before = file_of(router).read_text()
    with (state / "filler").open("wb", buffering=0) as filler:  # the disk is full from here on
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError:
            pass

    with pytest.raises(LoadBalancerError) as refused:
        await router.add_backend(WEB, backend(http_backends["green"]))
    message = str(refused.value)
    assert message.startswith("backend web/green: added at run time, then "), message
    assert "fe-web.cfg" in message
    assert "it was taken out of the running proxy again, nothing changed; fix that and re-run" in message

    assert file_of(router).read_text() == before, "the file must not claim the new backend"
    stat = await router.haproxy.runtime("show stat -1 4 -1")
    assert "web,green," not in stat, "the running proxy must not keep the new backend"
    assert await answers(port) == {"blue"}
    assert await proxy_state(router) == started
    (state / "filler").unlink()
    (declared,) = await router.frontends()
    assert [b.name for b in declared.backends] == ["blue"]


_KEEP_ALIVE_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open: HAProxy holds it idle for reuse
    def do_GET(self):
        body = sys.argv[2].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
    def handle(self):
        try:
            super().handle()
        except ConnectionError:
            pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


async def test_a_server_holding_idle_connections_goes_at_run_time_and_a_static_balance_reloads(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port, kept = free_port(), free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", _KEEP_ALIVE_SERVER, str(kept), "kept")
    try:
        await asyncio.to_thread(wait_listening, kept)
        keep_alive = Backend(name=N("kept"), address=LOCALHOST, port=Port(kept))
        web = blue_only(port, http_backends)
        await loopback_router.put_frontend(
            web.model_copy(update={"backends": non_empty([keep_alive, *web.backends], "backends")})
        )
        assert "kept" in await answers(port, 12)
        # HAProxy keeps connections to "kept" open for reuse; set to maintenance, it lets them go for the delete.
        conns = await loopback_router.haproxy.runtime("show servers conn web")
        idle = next(line.split() for line in conns.splitlines() if line.startswith("web/kept "))
        assert int(idle[9]) + int(idle[10]) > 0, f"no idle connection kept to the backend: {conns}"
        started = await proxy_state(loopback_router)

        await loopback_router.remove_backend(WEB, N("kept"), grace=5)
        assert await proxy_state(loopback_router) == started, "deleted without a reload"
        assert await answers(port) == {"blue"}
        assert "server kept" not in file_of(loopback_router).read_text()
        await reload(loopback_router)
        assert await answers(port) == {"blue"}
    finally:
        server.kill()
        await server.wait()

    # A backend balanced by a static algorithm cannot take servers at run time: a reload adds it.
    hashed = blue_only(port, http_backends).model_copy(update={"balance": "source"})
    await loopback_router.put_frontend(hashed)
    _, reloads = await proxy_state(loopback_router)
    await loopback_router.add_backend(WEB, backend(http_backends["green"]))
    _, reloaded = await proxy_state(loopback_router)
    assert reloaded == reloads + 1
    (declared,) = await loopback_router.frontends()
    assert [b.name for b in declared.backends] == ["blue", "green"]
