"""The dashboard in a real browser (Debian's chromium driven by Playwright) over a real fleet: real podman
device agents, a real nats-server and a real ``harmony fleet serve``.

An operator logs in, watches a staged rollout progress live (no reload), pauses and resumes it, sees a bad
version halted at its canary with the reason, restarts a workload from the device page; a viewer sees no
action and a forged action is refused. Any console error (a CSP violation is one) or page error fails the
test. Screenshots of every page go to ``test-artifacts/dashboard/`` (``HARMONY_TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Error, Page, async_playwright, expect

from harmony.agent.records import ClusterState, Heartbeat
from harmony.domain.capabilities.containers import ContainerHealthCheck, ContainerName, ContainerSpec
from harmony.domain.capabilities.postgres import ServerEndpoint
from harmony.domain.outcome import Status
from harmony.domain.values import Port
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer, NatsKeyValue, NatsOptions
from harmony.maestro.journal import Journal
from harmony.modules.application.container import Container
from tests.dashboard.test_dashboard_http import OPERATOR, VIEWER, add_user
from tests.fixtures.fleet_controller import ROOT, Controllers, wait_http
from tests.fixtures.ports import free_port
from tests.fleet.test_fleet_devices import (  # noqa: F401 - the fixture is used by name
    IMAGE,
    Devices,
    devices,  # pyright: ignore[reportUnusedImport]  # a pytest fixture, used by name
    until,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DEVICES = ("br-1", "br-2", "br-3")
LONG = 90_000  # ms: a wave takes a container start and a health check on a loaded machine


def web(version: str, *, broken: bool = False) -> Container:
    """busybox httpd that says it started, then takes three seconds to serve (so a wave lasts a while)."""
    script = (
        "exit 3"
        if broken
        else (f"echo web {version} started; sleep 3; echo {version} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp")
    )
    return Container(
        spec=ContainerSpec(
            name=ContainerName("web"), image=IMAGE, command=("sh", "-c", script),
            health=ContainerHealthCheck(
                command=("wget", "-q", "-O-", "http://127.0.0.1:8080/"), interval=timedelta(milliseconds=300)
            ),
            restart="no",
        ),
        stop_grace=timedelta(seconds=1),
    )  # fmt: skip


class Shots:
    def __init__(self, tmp: Path) -> None:
        self.dir = Path(os.environ.get("HARMONY_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.tmp = tmp

    async def take(self, page: Page, name: str) -> None:
        await page.screenshot(path=self.dir / f"{name}.png", full_page=True)


def watch_problems(page: Page, problems: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: console error: {message.text}")

    def on_page_error(error: Error) -> None:
        problems.append(f"{page.url}: page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)


async def log_in(page: Page, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("User").fill(user)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("h1")).to_have_text("Fleet overview")


async def mark(page: Page) -> None:
    """A value that lives as long as the document: gone if the page reloads or navigates."""
    await page.evaluate("window.__sameDocument = true")


async def still_same_document(page: Page) -> bool:
    return bool(await page.evaluate("window.__sameDocument === true"))


async def write_failover_records(server: FleetNatsServer, home: FleetHome) -> None:
    """What two failover agents write to their bucket (``harmony.agent.daemon``), read back by the page."""
    identity = home.control()
    options = NatsOptions(servers=[server.url], user=identity.user, password=identity.password, timeout=2.0)
    store = await NatsKeyValue.connect(options, bucket="harmony_failover")
    try:
        a, b = ServerEndpoint(host="127.0.0.1", port=Port(5433)), ServerEndpoint(host="127.0.0.1", port=Port(5434))
        await store.create(
            "pg.state", ClusterState(primary="pg-a", epoch=1, endpoint=a, reason="bootstrap").model_dump_json().encode()
        )
        for seq in (1, 2):
            await store.put(
                "pg.hb.pg-a", Heartbeat(node="pg-a", status="serving", seq=seq, endpoint=a).model_dump_json().encode()
            )
            await store.put(
                "pg.hb.pg-b", Heartbeat(node="pg-b", status="streaming", seq=seq, endpoint=b).model_dump_json().encode()
            )
        await store.put(
            "pg.events.pg-a", b'{"node": "pg-a", "action": "bootstrap", "reason": "no cluster state yet", "seq": 1}'
        )
    finally:
        await store.close()


@pytest.mark.slow
async def test_dashboard_in_a_real_browser(
    devices: Devices,  # noqa: F811 - the fixture
    controllers: Controllers,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
    journal_path: Path,
    tmp_path: Path,
) -> None:
    assert Path(CHROMIUM).exists(), "chromium is not installed; run scripts/install"
    control = fleet_control
    for i, device in enumerate(DEVICES):
        await control.register(device, {"site": "lab", "ring": "canary" if i == 0 else "main"})
        fleet_home.add_device(device)
    await fleet_server.reload()
    for device in DEVICES:
        await devices.provision(device)
        await devices.start(device)
    add_user(controllers, *OPERATOR, "operator")
    add_user(controllers, *VIEWER, "viewer")
    await write_failover_records(fleet_server, fleet_home)
    journal = Journal(journal_path)
    journal.start_run("run-0001-browser", mode="apply", deployment="office_edge", topology="LinuxHost")
    journal.finish_run("run-0001-browser", Status.SUCCESS)
    journal.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    controllers.start("c1", "--listen", f"127.0.0.1:{port}")
    await wait_http(base)
    shots = Shots(tmp_path)
    problems: list[str] = []
    staged = Strategy(canary=0.3, waves=2, wave_timeout=120)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            operator = await (await browser.new_context(viewport={"width": 1360, "height": 900})).new_page()
            watch_problems(operator, problems)
            await operator.goto(f"{base}/")
            await expect(operator.locator("h1")).to_have_text("Log in")
            await shots.take(operator, "01-login")
            await log_in(operator, base, *OPERATOR)
            await expect(operator.locator("#online-count")).to_have_text("3 online", timeout=LONG)
            await shots.take(operator, "02-overview")

            # A rollout recorded from elsewhere appears, and progresses, on the open page without a reload.
            await operator.goto(f"{base}/rollouts")
            await mark(operator)
            await control.deploy("web", web("v1"), selector={"site": "lab"}, strategy=staged)
            await expect(operator.locator("#rollout-web")).to_be_visible(timeout=LONG)
            await operator.get_by_role("link", name="web", exact=True).click()
            await mark(operator)
            await expect(operator.locator("#wave-1 .wave-count")).to_have_text("1/1 healthy", timeout=LONG)
            assert await still_same_document(operator), "the page reloaded instead of updating live"
            await shots.take(operator, "03-rollout-running")

            # Pause (the operator halts it), then resume: it finishes, watched live.
            await operator.get_by_role("button", name="Pause").click()
            await expect(operator.locator("#rollout-phase")).to_have_text("paused")
            await expect(operator.locator(".flash")).to_contain_text("web: pause done")
            paused_at = (await control.rollout("web"))[0].next_wave
            assert paused_at < 3
            await shots.take(operator, "04-rollout-paused")
            await operator.get_by_role("button", name="Resume").click()
            await mark(operator)
            await expect(operator.locator("#rollout-phase")).to_have_text("done", timeout=LONG)
            await expect(operator.locator("#rollout-progress")).to_contain_text("3 healthy", timeout=LONG)
            assert await still_same_document(operator)
            assert (await control.rollout("web"))[0].phase == "done"
            await shots.take(operator, "05-rollout-done")

            # A bad version halts at its canary; the page shows why; the operator aborts it.
            await control.deploy("web", web("v2", broken=True), selector={"site": "lab"}, strategy=staged)
            await expect(operator.locator("#rollout-phase")).to_have_text("halted", timeout=LONG)
            await expect(operator.locator("#rollout-reason")).to_contain_text("br-1", timeout=LONG)
            await expect(operator.locator("#rollout-reason")).to_contain_text("failed")
            await shots.take(operator, "06-rollout-halted")

            # A viewer sees the halted rollout and the reason, and can do nothing about it.
            viewer = await (await browser.new_context(viewport={"width": 1360, "height": 900})).new_page()
            watch_problems(viewer, problems)
            await log_in(viewer, base, *VIEWER)
            await viewer.goto(f"{base}/rollouts/web")
            await expect(viewer.locator("#rollout-reason")).to_contain_text("br-1")
            await expect(viewer.locator(".actions")).to_contain_text("Viewers cannot")
            assert await viewer.get_by_role("button", name="Resume").count() == 0
            assert await viewer.get_by_role("button", name="Abort").count() == 0
            csrf = await viewer.locator("form.logout input[name=csrf]").get_attribute("value")
            forged = await viewer.request.post(
                f"{base}/rollouts/web", form={"csrf": csrf or "", "action": "resume"}, max_redirects=0
            )
            assert forged.status == 403 and "Only operators" in await forged.text()
            assert (await control.rollout("web"))[0].phase == "halted"
            await operator.get_by_role("button", name="Abort").click()
            await expect(operator.locator("#rollout-phase")).to_have_text("aborted")
            await operator.goto(f"{base}/rollouts")
            await shots.take(operator, "07-rollouts")

            # Restart a workload from its device's page (br-2 still runs v1: the bad version never reached it).
            await operator.goto(f"{base}/devices/br-2")
            await expect(operator.locator("pre")).to_contain_text("web v1 started")
            await shots.take(operator, "08-device")
            await operator.get_by_role("button", name="Restart").click()
            await expect(operator.locator(".flash")).to_contain_text("web restarted on br-2: running", timeout=LONG)
            logs = await until(lambda: devices.runtimes["br-2"].container_logs("web", tail=20),
                               lambda lines: sum("started" in line for line in lines) >= 2)  # fmt: skip
            assert sum("started" in line for line in logs) == 2, logs

            await operator.goto(f"{base}/failover")
            await expect(operator.locator("#cluster-pg .primary")).to_have_text("pg-a")
            await expect(operator.locator("#cluster-pg .history")).to_contain_text("bootstrap: no cluster state yet")
            await shots.take(operator, "09-failover")
            await operator.goto(f"{base}/journal")
            await expect(operator.locator("table.journal")).to_contain_text("office_edge")
            await shots.take(operator, "10-journal")
            lost = await operator.context.new_page()
            errors: list[str] = []
            watch_problems(lost, errors)
            missing = await lost.goto(f"{base}/devices/no-such-device")
            assert missing is not None and missing.status == 404
            await expect(lost.locator(".message")).to_have_text("No device 'no-such-device' is registered.")
            await lost.wait_for_timeout(1500)  # an error page is not live: it must fetch nothing more
            assert len(errors) == 1 and "404" in errors[0], errors  # the deliberate 404 itself, once
            await shots.take(lost, "11-not-found")

            # The viewer's session still sees the device, without a Restart button.
            await viewer.goto(f"{base}/devices/br-2")
            await expect(viewer.locator("#deployment-web")).to_contain_text("running")
            assert await viewer.get_by_role("button", name="Restart").count() == 0
            await shots.take(viewer, "12-viewer-device")
            forged = await viewer.request.post(
                f"{base}/devices/br-2/restart", form={"csrf": csrf or "", "deployment": "web"}, max_redirects=0
            )
            assert forged.status == 403 and "Only operators" in await forged.text()
        finally:
            await browser.close()

    assert problems == [], "\n".join(problems)
    assert len(list(shots.dir.glob("*.png"))) == 12
