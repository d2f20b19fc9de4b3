"""The application deploy packages, applied through their own Scores: the library path and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dns.resolver
import pytest
from examples import status_board_deploy, web_deploy

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.domain.capabilities.containers import POD_LABEL
from harmony.domain.deployment import Deployment
from harmony.domain.outcome import Status
from harmony.infra.podman import Podman
from harmony.testing import converge
from harmony.topology.container_host import ContainerHost
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.integration.client_loop import ClientLoop
from tests.integration.polling import eventually

REPO = Path(__file__).resolve().parents[2]
HARMONY = str(Path(sys.executable).parent / "harmony")


def get(port: int, path: str = "/index.html") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def resolve(dns_port: int, name: str) -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_port
    return [r.to_text() for r in resolver.resolve(name, "A")]


type Teardown = Callable[[Deployment[ContainerHost]], Deployment[ContainerHost]]


@pytest.fixture
async def cleaned() -> AsyncIterator[Teardown]:
    """Registers deployments whose daemons and containers are removed after the test."""
    hosts: list[ContainerHost] = []

    def register(d: Deployment[ContainerHost]) -> Deployment[ContainerHost]:
        hosts.append(d.topology)
        return d

    yield register
    for host in hosts:
        await host.stop_services()
        wipe(host.podman)


async def test_web_deploy_converges_serves_by_name_and_upgrades_blue_green(tmp_path: Path, cleaned: Teardown) -> None:
    port, dns_port = free_port(), free_port()
    first = cleaned(web_deploy.build(state=tmp_path / "web", port=port, dns_port=dns_port))
    report, _ = await converge(first)
    assert report.status is Status.SUCCESS
    assert "Hello from a Harmony-deployed web app" in get(port)
    assert resolve(dns_port, "web.apps.lan") == ["127.0.0.1"]

    pages = {"index.html": "<h1>Harmony, second edition</h1>\n"}
    second = web_deploy.build(state=tmp_path / "web", port=port, dns_port=dns_port, pages=pages)
    with ClientLoop(f"http://127.0.0.1:{port}/index.html") as client:
        await asyncio.sleep(0.2)
        await converge(second)
    assert client.failures == []
    assert client.requests >= 10, "the client loop ran during the upgrade"
    assert get(port) == pages["index.html"]


async def test_status_board_worker_feeds_web_and_is_supervised(tmp_path: Path, cleaned: Teardown) -> None:
    port = free_port()
    deployment = cleaned(status_board_deploy.build(state=tmp_path / "b", port=port, dns_port=free_port()))
    assert [s.name for s in deployment.scores][-1] == "app:board"
    await converge(deployment)
    assert get(port).startswith("status board: tick ")
    host = deployment.topology
    pid = subprocess.run(
        host.podman.argv("inspect", "--format", "{{.State.Pid}}", "board-worker"),
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(["kill", "-9", pid], check=True)
    supervisor = ContainerSupervisor(host, interval=0.2)

    async def ticking_again() -> bool:
        await supervisor.tick()
        worker = await host.inspect_container("board-worker")
        return worker is not None and worker.running and get(port).startswith("status board: tick 1 ")

    await eventually(ticking_again, what="the worker restarted and writing the page from tick 1 again")


def supervise_and_kill(env: dict[str, str], store: Podman, name: str, port: int) -> str:
    """Run ``harmony containers supervise``, SIGKILL the container, wait until the supervisor says it restarted
    it and it serves again; return what the supervisor printed."""
    supervisor = subprocess.Popen(
        [HARMONY, "containers", "supervise", "examples/web_deploy", "--interval", "0.2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    assert supervisor.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(supervisor.stdout or ()), daemon=True)
    reader.start()
    try:
        pid = subprocess.run(
            store.argv("inspect", "--format", "{{.State.Pid}}", name), capture_output=True, text=True, check=True
        ).stdout.strip()
        os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not (any(f"{name}: restart" in line for line in lines) and serves(port)):
            assert time.monotonic() < deadline, f"the supervisor did not bring {name} back: {lines}"
            time.sleep(0.2)
    finally:
        supervisor.send_signal(signal.SIGINT)
        supervisor.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    assert "Traceback" not in output and "stopped; " in output, output
    return output


def serves(port: int) -> bool:
    try:
        return "Harmony" in get(port)
    except OSError:
        return False


def test_web_deploy_through_the_harmony_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HARMONY_WEB_STATE": str(tmp_path / "cli"),
        "HARMONY_WEB_PORT": str(port := free_port()),
        "HARMONY_WEB_DNS_PORT": str(free_port()),
        "COLUMNS": "200",
    }

    def harmony(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HARMONY, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300
        )

    try:
        checked = harmony("check", "examples/web_deploy")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        planned = harmony("plan", "examples/web_deploy")
        assert planned.returncode == 0 and "application web" in planned.stdout, planned.stdout
        applied = harmony("apply", "examples/web_deploy", "--yes")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert f"serving at http://web.apps.lan:{port}/" in applied.stdout.replace("\n", "")
        again = harmony("apply", "examples/web_deploy", "--yes")
        assert again.returncode == 0 and "0 changed, 2 unchanged" in again.stdout, again.stdout
        assert "Harmony" in get(port)
        listed = harmony("containers", "ps", "examples/web_deploy", "--json")
        assert listed.returncode == 0, listed.stderr
        (container,) = json.loads(listed.stdout)
        assert container["state"] == "running" and container["labels"]["io.harmony.app"] == "web"
        logs = harmony("containers", "logs", "examples/web_deploy", container["name"], "--tail", "5")
        assert logs.returncode == 0 and "response:200" in logs.stdout, logs.stdout + logs.stderr
        supervised = supervise_and_kill(env, Podman.isolated(tmp_path / "cli" / "podman"), container["name"], port)
        assert f"{container['name']}: restart" in supervised, supervised
    finally:
        down = harmony("containers", "down", "examples/web_deploy")
        store = Podman.isolated(tmp_path / "cli" / "podman")
        pods = subprocess.run(store.argv("pod", "ps", "--quiet"), capture_output=True, text=True, check=False)
        wipe(store)  # the store's run root, after the test
        assert down.returncode == 0, down.stdout + down.stderr
        assert pods.returncode == 0 and pods.stdout == "", "containers down removes the application's pods too"


def test_containers_down_removes_what_it_can_stops_the_daemons_and_names_what_it_could_not(tmp_path: Path) -> None:
    state = tmp_path / "cli"
    env = {**os.environ, "HARMONY_WEB_STATE": str(state), "HARMONY_WEB_PORT": str(port := free_port()),
           "HARMONY_WEB_DNS_PORT": str(free_port()), "COLUMNS": "200"}  # fmt: skip
    store = Podman.isolated(state / "podman")

    def harmony(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HARMONY, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    def daemons() -> list[str]:
        listed = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        return [line for line in listed.splitlines() if str(state) in line and line.startswith(("haproxy", "dnsmasq"))]

    try:
        applied = harmony("apply", "examples/web_deploy", "--yes")
        assert applied.returncode == 0 and serves(port), applied.stdout + applied.stderr
        assert daemons(), "the load balancer and DNS run"
        (container,) = json.loads(harmony("containers", "ps", "examples/web_deploy", "--json").stdout)
        pod = container["labels"][POD_LABEL]
        # An operator's shell in the application's pod and process namespace: podman will not remove either.
        shell = ["run", "-d", "--name", "shell", f"--pod={pod}", f"--pid=container:{container['name']}"]
        started = subprocess.run(store.argv(*shell, container["image"], "sleep", "1000"), capture_output=True)
        assert started.returncode == 0, started.stderr

        down = harmony("containers", "down", "examples/web_deploy")
        assert down.returncode == 1, down.stdout + down.stderr
        said = " ".join(down.stderr.split())
        assert f"not removed: {container['name']}" in said and f"pod {pod} holds containers" in said, said
        assert "(shell)" in said and "run `harmony containers down` again" in said, said
        assert daemons() == [], "the load balancer and DNS are stopped all the same"

        assert subprocess.run(store.argv("rm", "-f", "-t", "0", "shell"), capture_output=True).returncode == 0
        again = harmony("containers", "down", "examples/web_deploy")
        assert again.returncode == 0 and f"removed 1 container(s): {container['name']}" in again.stdout, again.stdout
        pods = subprocess.run(store.argv("pod", "ps", "--quiet"), capture_output=True, text=True, check=True)
        assert pods.stdout == ""
    finally:
        subprocess.run(store.argv("rm", "-f", "-t", "0", "shell"), capture_output=True)
        harmony("containers", "down", "examples/web_deploy")
        wipe(store)
