"""HAProxy behind ``LoadBalancer``, for real: two busybox httpd backends on 127.0.0.1, HAProxy in front.

Balancing, drain under continuous load with zero lost requests, a failed health check taking a backend
out, validation before reload, and the LoadBalancing Score's idempotence and plan diff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.load_balancer import Backend, BackendHealth, Frontend, HealthCheck
from harmony.domain.errors import LoadBalancerError
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.outcome import Status
from harmony.domain.values import IPv4Address, Port
from harmony.maestro import Maestro
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter
from tests.fixtures.edge import HttpBackend, Load, get
from tests.fixtures.ports import free_port

N = ResourceName
WEB = N("web")
LOCALHOST = IPv4Address("127.0.0.1")


def frontend(port: int, backends: dict[str, HttpBackend], *, draining: tuple[str, ...] = ()) -> Frontend:
    return Frontend(
        name=WEB,
        address=LOCALHOST,
        port=Port(port),
        backends=non_empty(
            (
                Backend(
                    name=N(b.name),
                    address=LOCALHOST,
                    port=Port(b.port),
                    state="draining" if b.name in draining else "active",
                )
                for b in backends.values()
            ),
            "backends",
        ),
        health_check=HealthCheck(protocol="http", path="/", interval=timedelta(milliseconds=200), rise=1, fall=2),
    )


async def wait_for(predicate_coro: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate_coro():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_score_balances_traffic_and_second_apply_is_noop(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    score = LoadBalancing(frontends=(frontend(port, http_backends),))
    maestro = Maestro(loopback_router)

    plan = await maestro.plan([score])
    assert [(c.action.value, c.target) for c in plan.results[0].changes] == [
        ("create", "lb frontend web"),
        ("create", "lb backend web/blue"),
        ("create", "lb backend web/green"),
    ]
    first = await maestro.apply([score])
    assert first.status is Status.SUCCESS, first.error
    second = await maestro.apply([score])
    assert second.status is Status.NOOP

    answers = [await asyncio.to_thread(get, f"http://127.0.0.1:{port}/") for _ in range(20)]
    assert answers.count("blue") == 10
    assert answers.count("green") == 10

    gone = score.model_copy(update={"present": False})
    assert [c.target for c in (await maestro.plan([gone])).results[0].changes] == [
        "lb frontend web",
        "lb backend web/blue",
        "lb backend web/green",
    ]
    assert (await maestro.apply([gone])).status is Status.SUCCESS
    assert (await maestro.apply([gone])).status is Status.NOOP
    assert await loopback_router.frontends() == []


async def test_drain_under_continuous_load_loses_no_request(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    await loopback_router.put_frontend(frontend(port, http_backends))
    url = f"http://127.0.0.1:{port}"
    slow = [asyncio.create_task(asyncio.to_thread(get, f"{url}/cgi-bin/slow")) for _ in range(2)]
    await wait_for(lambda: _sessions(loopback_router, "blue", at_least=1), "a slow request in flight on blue")
    load = Load(url=url + "/").start()
    try:
        await asyncio.sleep(0.5)
        await loopback_router.drain_backend(WEB, N("blue"))
        states = {str(s.name): s for s in await loopback_router.backend_states(WEB)}
        assert states["blue"].state == "draining"
        await asyncio.sleep(0.3)  # let requests dispatched before the drain (a few ms each) complete
        before = load.snapshot()
        await asyncio.sleep(0.5)
        after = load.snapshot()
        assert after["blue"] == before["blue"], "a drained backend got new connections"
        assert after["green"] > before["green"]
        await loopback_router.remove_backend(WEB, N("blue"), grace=10)
        assert [b.name for b in (await loopback_router.frontends())[0].backends] == ["green"]
        # and back again: a reload (add) under load
        await loopback_router.add_backend(
            WEB, Backend(name=N("blue"), address=LOCALHOST, port=Port(http_backends["blue"].port))
        )
        await asyncio.sleep(1.0)
    finally:
        load.stop()
    finished = await asyncio.gather(*slow)
    assert "blue-slow" in finished, "the request in flight on the drained backend must finish"
    assert all(body.endswith("-slow") for body in finished)
    assert load.failures == []
    assert load.total > 50
    assert load.snapshot()["blue"] > before["blue"], "the re-added backend serves again"


async def _sessions(router: EdgeRouter, backend: str, *, at_least: int) -> bool:
    states = {str(s.name): s for s in await router.backend_states(WEB)}
    return states[backend].sessions >= at_least


async def test_backend_failing_its_health_check_is_taken_out(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    await loopback_router.put_frontend(frontend(port, http_backends))

    async def both_up() -> bool:
        return all(s.health is BackendHealth.UP for s in await loopback_router.backend_states(WEB))

    await wait_for(both_up, "both backends healthy")
    http_backends["green"].kill()

    async def green_down() -> bool:
        states = {str(s.name): s for s in await loopback_router.backend_states(WEB)}
        return states["green"].health is BackendHealth.DOWN and not states["green"].serving

    await wait_for(green_down, "green marked down")
    answers = [await asyncio.to_thread(get, f"http://127.0.0.1:{port}/") for _ in range(10)]
    assert answers == ["blue"] * 10


async def test_drain_as_a_score_change_shows_in_the_plan_and_needs_no_reload(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    maestro = Maestro(loopback_router)
    assert (await maestro.apply([LoadBalancing(frontends=(frontend(port, http_backends),))])).status is Status.SUCCESS
    worker = await loopback_router.haproxy.runtime("show info")

    drained = LoadBalancing(frontends=(frontend(port, http_backends, draining=("blue",)),))
    plan = await maestro.plan([drained])
    (change,) = plan.results[0].changes
    assert (change.action.value, change.target) == ("update", "lb backend web/blue")
    assert "active" in change.diff
    assert "draining" in change.diff
    assert (await maestro.apply([drained])).status is Status.SUCCESS
    assert (await maestro.apply([drained])).status is Status.NOOP
    assert _pid(await loopback_router.haproxy.runtime("show info")) == _pid(worker), "drain must not reload"
    answers = {await asyncio.to_thread(get, f"http://127.0.0.1:{port}/") for _ in range(6)}
    assert answers == {"green"}


def _pid(info: str) -> str:
    return next(line for line in info.splitlines() if line.startswith("Pid:"))


async def test_conflicting_or_rejected_changes_leave_the_running_proxy_alone(
    loopback_router: EdgeRouter, http_backends: dict[str, HttpBackend]
) -> None:
    port = free_port()
    web = frontend(port, http_backends)
    await loopback_router.put_frontend(web)
    api = web.model_copy(update={"name": N("api")})
    with pytest.raises(LoadBalancerError, match=rf"127\.0\.0\.1:{port} is already used by frontend web"):
        await loopback_router.put_frontend(api)

    await loopback_router.remove_backend(WEB, N("blue"))
    with pytest.raises(LoadBalancerError, match="last backend of the frontend; remove the frontend instead"):
        await loopback_router.remove_backend(WEB, N("green"))

    # Someone drops a broken file next to ours: `haproxy -c` rejects the next change before any reload.
    confd = Path(loopback_router.haproxy.state_dir / "haproxy.d")
    (confd / "zz-by-hand.cfg").write_text("frontend by_hand\n    bind 127.0.0.1:notaport\n")
    before = (confd / "fe-web.cfg").read_text()
    with pytest.raises(LoadBalancerError, match="HAProxy rejected the configuration"):
        await loopback_router.put_frontend(web)
    assert (confd / "fe-web.cfg").read_text() == before
    assert {await asyncio.to_thread(get, f"http://127.0.0.1:{port}/") for _ in range(4)} == {"green"}
