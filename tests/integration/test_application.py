"""Images, containers and blue-green applications through the Maestro, on real podman."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from pathlib import Path, PurePosixPath

import pytest

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.values import Port
from harmony.infra.podman import Podman
from harmony.maestro import Maestro
from harmony.modules.application import Application, BusyboxImage, CommandCheck, Container, HttpCheck
from harmony.modules.application.application import APP_LABEL
from harmony.topology.container_host import ContainerHost
from tests.integration.polling import eventually


def site(staging: Path, version: str, *, body: str | None = None) -> BusyboxImage:
    return BusyboxImage(
        ref=ImageRef("localhost/site:live"),
        files={"www/index.html": body or f"site version {version}\n"},
        staging_dir=PurePosixPath(staging),
    )


def app(image: BusyboxImage, *, expect: str = "site version", timeout: float = 10.0) -> Application:
    return Application(
        app=ContainerName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        smoke=HttpCheck(path="/index.html", expect_body=expect, timeout=timeout),
        stop_grace=1.0,
    )


def stack(staging: Path, version: str, *, body: str | None = None, **kw: object) -> list[Score[ContainerHost]]:
    image = site(staging, version, body=body)
    application = app(image)
    return [image, application.model_copy(update=kw)]


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
        return r.read().decode()


async def apply(host: ContainerHost, scores: list[Score[ContainerHost]]) -> tuple[Status, list[str]]:
    report = await Maestro(host).apply(scores)
    outcomes = [r.outcome for r in report.results]
    lines = [
        f"{r.score} {o.status if o else 'skipped'} {o.message if o else ''}"
        for r, o in zip(report.results, outcomes, strict=True)
    ]
    for o in outcomes:
        if o is not None:
            lines += list(o.details)
    return report.status, lines


async def serving_port(host: ContainerHost) -> int:
    (info,) = await host.list_containers({APP_LABEL: "site"})
    port = info.host_port(8080)
    assert port is not None
    return port


@pytest.fixture
def host(podman: Podman) -> ContainerHost:
    return ContainerHost(name="test-host", podman=podman)


async def test_image_and_container_apply_then_noop(host: ContainerHost, tmp_path: Path) -> None:
    image = site(tmp_path, "1")
    sleeper = Container(
        spec=ContainerSpec(name=ContainerName("sleeper"), image=image.ref, command=("sleep", "1000")),
        after=(image.name,),
    )
    assert (await apply(host, [image, sleeper]))[0] is Status.SUCCESS
    status, lines = await apply(host, [image, sleeper])
    assert status is Status.NOOP, lines
    changed = Container(spec=sleeper.spec.model_copy(update={"command": ("sleep", "2000")}), after=(image.name,))
    assert (await apply(host, [image, changed]))[0] is Status.SUCCESS
    (info,) = await host.list_containers()
    assert info.running and info.name == "sleeper"


async def test_deploy_upgrade_and_failed_upgrade_keeps_the_old_version(host: ContainerHost, tmp_path: Path) -> None:
    status, lines = await apply(host, stack(tmp_path, "1"))
    assert status is Status.SUCCESS, lines
    port1 = await serving_port(host)
    assert get(port1) == "site version 1\n"
    assert (await apply(host, stack(tmp_path, "1")))[0] is Status.NOOP

    status, lines = await apply(host, stack(tmp_path, "2"))
    assert status is Status.SUCCESS, lines
    port2 = await serving_port(host)
    assert get(port2) == "site version 2\n"

    status, lines = await apply(host, stack(tmp_path, "3", body="broken build\n"))
    assert status is Status.FAILURE
    text = "\n".join(lines)
    assert "failed its smoke check" in text and "previous version keeps serving" in text
    assert "lacks 'site version'" in text, text
    assert await serving_port(host) == port2
    assert get(port2) == "site version 2\n"


async def test_smoke_timeout_reports_probe_and_logs_and_leaves_nothing(host: ContainerHost, tmp_path: Path) -> None:
    silent = stack(
        tmp_path, "1", command=("sh", "-c", "echo listening nowhere; sleep 1000"), smoke=HttpCheck(timeout=1.5)
    )
    status, lines = await apply(host, silent)
    assert status is Status.FAILURE
    text = "\n".join(lines)
    assert "within 1.5s" in text and "probe: GET http://127.0.0.1:" in text
    assert "listening nowhere" in text
    assert await host.list_containers({APP_LABEL: "site"}) == []


async def test_command_check_runs_inside_the_new_version(host: ContainerHost, tmp_path: Path) -> None:
    checked = stack(tmp_path, "1", smoke=CommandCheck(argv=("test", "-f", "/www/index.html"), timeout=5))
    assert (await apply(host, checked))[0] is Status.SUCCESS


async def test_killed_container_is_restarted_by_the_supervisor(host: ContainerHost, tmp_path: Path) -> None:
    assert (await apply(host, stack(tmp_path, "1")))[0] is Status.SUCCESS
    (info,) = await host.list_containers({APP_LABEL: "site"})
    pid = subprocess.run(
        host.podman.argv("inspect", "--format", "{{.State.Pid}}", info.name), capture_output=True, text=True, check=True
    ).stdout.strip()
    os.kill(int(pid), signal.SIGKILL)
    supervisor = ContainerSupervisor(host, interval=0.2)

    async def restarted() -> bool:
        await supervisor.tick()
        again = await host.inspect_container(info.name)
        return again is not None and again.running

    await eventually(restarted, what="the killed container running again")
    assert supervisor.restarts >= 1
    assert get(await serving_port(host)) == "site version 1\n"


async def test_a_restarted_harmony_adopts_its_containers_without_duplicates(podman: Podman, tmp_path: Path) -> None:
    first = ContainerHost(name="before", podman=podman)
    assert (await apply(first, stack(tmp_path, "1")))[0] is Status.SUCCESS
    # A new process would build everything afresh from the same store: new adapter, new topology, new Maestro.
    again = ContainerHost(
        name="after",
        podman=Podman(root=podman.root, runroot=podman.runroot, storage_driver=podman.storage_driver, conf=podman.conf),
    )
    status, lines = await apply(again, stack(tmp_path, "1"))
    assert status is Status.NOOP, lines
    assert len(await again.list_containers({APP_LABEL: "site"})) == 1
