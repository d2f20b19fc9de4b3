"""Dashboard benchmark: the fleet overview with 1,000 devices, rendered and updated live.

    .venv/bin/python bench/dashboard_bench.py --devices 1000 --renders 30 --changes 20

What runs: one nats-server (JetStream, the fleet's authorization), a real ``harmony fleet serve --listen``
(controller + dashboard) as a subprocess, and Debian's chromium driven by Playwright. The bench writes what
1,000 devices would (registration, a heartbeat every 5 s, one deployment state each) with the control identity:
no agents run, since what is measured is the dashboard, not the devices. Measured:
- server time per render of the full overview (1,000 rows), from the ``Server-Timing`` header (request to
  response start), and the client-observed time of the same GET on loopback;
- change-to-screen: from a device's state write to NATS until the open overview in chromium shows it (the
  write, the controller's watch, the server-sent event, the page's fetch of its live part, the DOM swap).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.fixtures.ports import free_port  # noqa: E402

from harmony.dashboard.users import UserStore  # noqa: E402
from harmony.fleet.control import FleetControl  # noqa: E402
from harmony.fleet.credentials import FleetHome  # noqa: E402
from harmony.fleet.records import HEARTBEAT, STATE, DeploymentState, Heartbeat  # noqa: E402
from harmony.infra.nats import FleetNatsServer, fleet_options  # noqa: E402
from results import record  # noqa: E402 - bench/results.py, beside this script

HARMONY = str(Path(sys.executable).parent / "harmony")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.1f} ms, p90 {p90(values):.1f} ms, max {ordered[-1]:.1f} ms"


async def beats(control: FleetControl, devices: list[str], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        for d in devices:
            await control.bus.bucket(HEARTBEAT).put_nowait(d, Heartbeat(t=time.time(), seq=n, ok=1).to_bytes())
        await control.bus.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


async def main(count: int, renders: int, changes: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="harmony-dashboard-bench-"))
    home = FleetHome(tmp / "fleet")
    home.init(servers=["nats://127.0.0.1:0"])
    server = FleetNatsServer(store_dir=tmp / "nats" / "store", auth_file=home.auth_file)
    (tmp / "nats").mkdir()
    await server.start()
    identity = home.control().model_copy(update={"servers": (server.url,)})
    home.control_file.write_text(identity.file_json())
    os.chmod(home.control_file, 0o600)
    UserStore(home.path / "dashboard-users.json").add("bench", "viewer", "bench-password")
    control = await FleetControl.connect(
        fleet_options(servers=[server.url], user=identity.user, password=identity.password, name="bench")
    )
    devices = [f"dev-{i:04d}" for i in range(count)]
    await asyncio.gather(
        *(control.register(d, {"site": f"site-{i % 10}", "ring": "main"}) for i, d in enumerate(devices))
    )
    running = DeploymentState(deployment="web", version="a000000", phase="running", message="bench")
    await asyncio.gather(*(control.bus.bucket(STATE).publish(f"{d}.web", running.to_bytes()) for d in devices))
    stop = asyncio.Event()
    beating = asyncio.create_task(beats(control, devices, stop))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(  # noqa: ASYNC220 - started once; the bench waits for it over HTTP
        [HARMONY, "fleet", "serve", "--name", "bench", "--listen", f"127.0.0.1:{port}", "--home", str(home.path)],
        stdout=(tmp / "serve.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    form = await client.get("/login")
                    break
                except httpx.TransportError:
                    if serve.poll() is not None:
                        raise SystemExit(f"fleet serve ended:\n{(tmp / 'serve.log').read_text()}") from None
                    await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"fleet serve did not answer in 60 s:\n{(tmp / 'serve.log').read_text()}")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            await client.post(
                "/login", data={"csrf": token.group(1), "username": "bench", "password": "bench-password"}
            )
            for _ in range(100):  # the controller's view has replayed every device
                page = await client.get("/?partial=1")
                if f'<span class="count">{count}</span>' in page.text and f"{count} online" in page.text:
                    break
                await asyncio.sleep(0.2)
            server_ms: list[float] = []
            client_ms: list[float] = []
            for _ in range(renders):
                started = time.perf_counter()
                page = await client.get("/")
                client_ms.append((time.perf_counter() - started) * 1000)
                server_ms.append(float(page.headers["server-timing"].split("dur=")[1]))
                assert page.text.count('<tr id="device-') == count
            cookie = client.cookies.get("harmony_session")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            context = await browser.new_context()
            await context.add_cookies([{"name": "harmony_session", "value": cookie or "", "url": base}])
            page = await context.new_page()
            await page.goto(base + "/")
            await page.wait_for_selector("main[data-live]")
            await asyncio.sleep(2)  # the event stream is open
            delays: list[float] = []
            for i in range(changes):
                device = devices[(i * 37) % count]
                version = f"b{i:06d}"
                state = DeploymentState(deployment="web", version=version, phase="running", message="bench")
                started = time.perf_counter()
                await control.bus.bucket(STATE).publish(f"{device}.web", state.to_bytes())
                await page.wait_for_function(
                    "([d, v]) => (document.getElementById('device-' + d) || {textContent: ''}).textContent.includes(v)",
                    arg=[device, version],
                    polling="raf",
                    timeout=30_000,
                )
                delays.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.5)
            await browser.close()
        print(f"devices: {count}")
        print(f"server time per full overview render ({renders}x): {summary(server_ms)}")
        print(f"client-observed GET of the overview ({renders}x):   {summary(client_ms)}")
        print(f"change-to-screen in chromium ({changes}x):          {summary(delays)}")
        record("dashboard", f"overview render p90, {count} devices (server)", p90(server_ms), "ms", target=200)
        record("dashboard", f"change-to-screen p90, {count} devices (chromium)", p90(delays), "ms", target=1000)
    finally:
        stop.set()
        await beating
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
        await control.close()
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--changes", type=int, default=20)
    a = parser.parse_args()
    asyncio.run(main(a.devices, a.renders, a.changes))
