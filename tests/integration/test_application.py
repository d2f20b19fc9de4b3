"""Images, containers and blue-green applications through the Maestro: real podman, HAProxy and dnsmasq."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import urllib.request
from datetime import timedelta
from pathlib import Path, PurePosixPath

import dns.resolver

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.domain.capabilities.containers import POD_LABEL, ContainerName, ContainerSpec, ImageRef, VolumeMount
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.values import Hostname, Port
from harmony.maestro import Maestro
from harmony.modules.application import Application, BusyboxImage, CommandCheck, Container, HttpCheck
from harmony.modules.application.application import APP_LABEL, ON_SERVING
from harmony.modules.application.exposure import Exposure, backend_for
from harmony.topology.container_host import ContainerHost, plan_listing_reused
from tests.fixtures.app_host import same_store
from tests.fixtures.edge import haproxy_reloads
from tests.fixtures.podman import debug_container
from tests.fixtures.ports import free_port
from tests.integration.client_loop import ClientLoop
from tests.integration.polling import eventually

type Scores = list[Score[ContainerHost]]


def stack(staging: Path, lb_port: int, version: str, *, body: str | None = None, **changes: object) -> Scores:
    image = BusyboxImage(
        ref=ImageRef("localhost/site:live"),
        files={"www/index.html": body or f"site version {version}\n"},
        staging_dir=PurePosixPath(staging),
    )
    app = Application(
        app=ResourceName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(hostname=Hostname("site.apps.test"), zone=Hostname("apps.test"), port=Port(lb_port)),
        smoke=HttpCheck(path="/index.html", expect_body="site version", timeout=timedelta(seconds=10)),
        stop_grace=timedelta(seconds=1),
    )
    return [image, Application.model_validate(app.model_dump() | changes)]


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
        return r.read().decode()


async def apply(host: ContainerHost, scores: Scores) -> tuple[Status, str]:
    report = await Maestro(host).apply(scores)
    lines: list[str] = []
    for r in report.results:
        if r.outcome is not None:
            lines += [f"{r.score}: {r.outcome.status} {r.outcome.message}", *r.outcome.details]
    return report.status, "\n".join(lines)


def image_ids(host: ContainerHost) -> set[str]:
    """The store's images but podman's own pause image (which the pods' infra containers run)."""
    listed = subprocess.run(
        host.podman.argv("images", "-a", "--format", "{{.ID}} {{.Repository}}"), capture_output=True, text=True
    )
    return {line.split()[0] for line in listed.stdout.splitlines() if "/podman-pause" not in line}


def resolve(host: ContainerHost, name: str) -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = host.dnsmasq.port
    return [r.to_text() for r in resolver.resolve(name, "A")]


async def test_image_and_container_apply_then_noop(app_host: ContainerHost, tmp_path: Path) -> None:
    image = stack(tmp_path, free_port(), "1")[0]
    assert isinstance(image, BusyboxImage)
    sleeper = Container(
        spec=ContainerSpec(name=ContainerName("sleeper"), image=image.ref, command=("sleep", "1000")),
        after=(image.name,),
    )
    assert (await apply(app_host, [image, sleeper]))[0] is Status.SUCCESS
    status, text = await apply(app_host, [image, sleeper])
    assert status is Status.NOOP, text
    changed = Container(spec=sleeper.spec.model_copy(update={"command": ("sleep", "2000")}), after=(image.name,))
    assert (await apply(app_host, [image, changed]))[0] is Status.SUCCESS
    (info,) = await app_host.list_containers()
    assert info.running and info.name == "sleeper"


async def test_a_local_tag_runs_pinned_and_a_rebuilt_tag_is_planned_as_its_digest_change(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    image = stack(tmp_path, free_port(), "1")[0]
    assert isinstance(image, BusyboxImage)
    sleeper = Container(spec=ContainerSpec(name=ContainerName("pinned"), image=image.ref, command=("sleep", "1000")))
    assert (await apply(app_host, [image]))[0] is Status.SUCCESS
    first = await app_host.inspect_image(image.ref)
    assert first is not None and first.digest is not None
    (create,) = await sleeper.interpret().plan(app_host)
    assert f"run localhost/site@{first.digest} " in create.diff
    assert (await apply(app_host, [sleeper]))[0] is Status.SUCCESS
    running = await app_host.inspect_container("pinned")
    assert running is not None and running.image == f"localhost/site@{first.digest}"

    rebuilt = image.model_copy(update={"files": {"www/index.html": "other content\n"}})
    assert (await apply(app_host, [rebuilt]))[0] is Status.SUCCESS
    second = await app_host.inspect_image(image.ref)
    assert second is not None and second.digest not in (None, first.digest)
    (change,) = await sleeper.interpret().plan(app_host)
    assert change.diff == f"image localhost/site@{first.digest} -> localhost/site@{second.digest}: replace\n"
    assert (await apply(app_host, [sleeper]))[0] is Status.SUCCESS
    running = await app_host.inspect_container("pinned")
    assert running is not None and running.image == f"localhost/site@{second.digest}"
    assert (await apply(app_host, [sleeper]))[0] is Status.NOOP


async def test_deploy_then_upgrades_with_zero_failed_requests(app_host: ContainerHost, tmp_path: Path) -> None:
    lb = free_port()
    status, text = await apply(app_host, stack(tmp_path, lb, "1"))
    assert status is Status.SUCCESS, text
    assert get(lb) == "site version 1\n"
    assert resolve(app_host, "site.apps.test") == ["127.0.0.1"]
    status, text = await apply(app_host, stack(tmp_path, lb, "1"))
    assert status is Status.NOOP, text

    proxy = await haproxy_reloads(app_host.haproxy)
    with ClientLoop(f"http://127.0.0.1:{lb}/index.html") as passing:
        await asyncio.sleep(0.3)
        status, text = await apply(app_host, stack(tmp_path, lb, "2"))
        await asyncio.sleep(0.3)
    assert status is Status.SUCCESS, text
    assert passing.failures == []
    assert await haproxy_reloads(app_host.haproxy) == proxy, "the switch goes through the runtime API, no reload"
    assert passing.requests >= 10, "the client loop ran during the upgrade"
    assert set(passing.bodies) == {"site version 1\n", "site version 2\n"}, passing.bodies
    assert get(lb) == "site version 2\n"
    assert len(await app_host.list_containers({APP_LABEL: "site"})) == 1
    assert len(image_ids(app_host)) == 1, "version 1's image went with its container"

    with ClientLoop(f"http://127.0.0.1:{lb}/index.html") as failing:
        await asyncio.sleep(0.3)
        status, text = await apply(app_host, stack(tmp_path, lb, "3", body="broken build\n"))
        await asyncio.sleep(0.3)
    assert status is Status.FAILURE
    assert "failed its smoke check" in text and "previous version keeps serving" in text, text
    assert "lacks 'site version'" in text, text
    assert failing.failures == []
    assert failing.requests >= 10, "the client loop ran during the failed upgrade"
    assert set(failing.bodies) == {"site version 2\n"}, failing.bodies
    assert get(lb) == "site version 2\n"
    assert len(await app_host.list_containers({APP_LABEL: "site"})) == 1


async def test_whoever_listens_hears_the_new_version_serve_before_the_old_one_is_stopped(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    heard: list[tuple[str, str, list[str]]] = []

    async def serving(message: str) -> None:  # what a device agent reports then
        running = [c.name for c in await app_host.list_containers({APP_LABEL: "site"}) if c.running]
        heard.append((message, await asyncio.to_thread(get, lb), running))

    hook = ON_SERVING.set(serving)
    try:
        status, text = await apply(app_host, stack(tmp_path, lb, "1"))
        assert status is Status.SUCCESS, text
        assert heard == [], "a first deploy has no old version to stop: the run's end says it all"
        status, text = await apply(app_host, stack(tmp_path, lb, "2"))
        assert status is Status.SUCCESS, text
    finally:
        ON_SERVING.reset(hook)
    ((message, body, running),) = heard
    assert body == "site version 2\n", "told only once the load balancer sends the traffic to the new version"
    assert len(running) == 2, f"and before the old version is stopped: {running}"
    assert message.startswith("site version ") and message.endswith("; stopping the previous version"), message
    assert "serving at http://site.apps.test" in message
    (now,) = await app_host.list_containers({APP_LABEL: "site"})  # the old one is gone by the end of the run
    assert now.name in running


async def test_a_listing_made_under_plan_listing_reused_is_handed_once_to_the_next_then_podman_is_asked_again(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    status, text = await apply(app_host, stack(tmp_path, free_port(), "1"))
    assert status is Status.SUCCESS, text
    site = {APP_LABEL: "site"}
    (serving,) = await app_host.list_container_summaries(site)
    with plan_listing_reused():  # a device agent's plan, then its apply
        planned = await app_host.list_container_summaries(site)
        await app_host.remove_container(serving.name, grace=0)  # what the agent never does between the two
        handed = await app_host.list_container_summaries(site)
        again = await app_host.list_container_summaries(site)
    assert list(planned) == list(handed) == [serving], "the apply's read is the plan's: no podman process"
    assert list(again) == [] and list(await app_host.list_container_summaries(site)) == [], "then podman's"


async def test_a_new_version_that_exits_at_start_fails_at_once_with_its_logs_and_the_old_one_serves(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    status, text = await apply(app_host, stack(tmp_path, lb, "1"))
    assert status is Status.SUCCESS, text
    # It dies a second after its start, and has a minute to pass its smoke check: the check gives up as soon as
    # the container no longer runs.
    crashing = stack(
        tmp_path, lb, "2", command=("sh", "-c", "echo no config found; sleep 1; exit 3"),
        smoke={"kind": "http", "path": "/index.html", "timeout": 60},
    )  # fmt: skip
    status, text = await apply(app_host, crashing)
    assert status is Status.FAILURE, text
    assert "the container exited (exit code 3)" in text and "no config found" in text, text
    assert "previous version keeps serving" in text, text
    assert get(lb) == "site version 1\n"
    (left,) = await app_host.list_containers({APP_LABEL: "site"})
    assert left.running


async def test_versions_take_turns_in_two_pods_that_keep_their_ports_and_a_new_port_is_new_pods(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    placed: dict[str, tuple[str, int | None]] = {}
    for version in "123":
        status, text = await apply(app_host, stack(tmp_path, lb, version))
        assert status is Status.SUCCESS, text
        assert get(lb) == f"site version {version}\n"
        (c,) = await app_host.list_container_summaries({APP_LABEL: "site"})
        placed[version] = (c.labels[POD_LABEL], c.host_port(8080))
    assert placed["1"] == placed["3"] == ("site-a1-8080", placed["1"][1]), placed
    assert placed["2"][0] == "site-b1-8080" and placed["2"][1] != placed["1"][1], placed
    assert await app_host.list_pods() == ["site-a1-8080", "site-b1-8080"]

    # The container port changes: new pods, and both pods of the old port go (the emptied one too).
    moved = stack(tmp_path, lb, "4", port=8081, command=("httpd", "-f", "-p", "8081", "-h", "/www"))
    status, text = await apply(app_host, moved)
    assert status is Status.SUCCESS, text
    assert get(lb) == "site version 4\n"
    assert await app_host.list_pods() == ["site-a1-8081"]
    status, text = await apply(app_host, moved)
    assert status is Status.NOOP, text


async def test_when_an_interrupted_switch_left_both_pods_serving_the_next_version_gets_a_port_of_its_own(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    for version in "12":
        status, text = await apply(app_host, stack(tmp_path, lb, version))
        assert status is Status.SUCCESS, text
    app = stack(tmp_path, lb, "2")[1]
    assert isinstance(app, Application)
    # What a switch interrupted between adding the new server and removing the old one leaves: a version in each
    # pod, both behind the load balancer.
    other = await app_host.run_container(app.container_spec("0123456789", pod=ContainerName("site-a1-8080")))
    await app_host.add_backend(app.app, backend_for(other.name, other.host_port(8080) or 0))

    status, text = await apply(app_host, stack(tmp_path, lb, "3"))
    assert status is Status.SUCCESS, text
    (three,) = await app_host.list_container_summaries({APP_LABEL: "site"})
    assert POD_LABEL not in three.labels and three.host_port(8080) is not None, three
    assert get(lb) == "site version 3\n"
    status, text = await apply(app_host, stack(tmp_path, lb, "4"))  # and the pods take over again
    assert status is Status.SUCCESS, text
    (four,) = await app_host.list_container_summaries({APP_LABEL: "site"})
    assert four.labels[POD_LABEL] == "site-a1-8080" and get(lb) == "site version 4\n"


async def test_an_old_version_that_cannot_be_stopped_fails_the_run_and_says_the_new_one_serves(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    status, text = await apply(app_host, stack(tmp_path, lb, "1"))
    assert status is Status.SUCCESS, text
    (old,) = await app_host.list_containers({APP_LABEL: "site"})
    with debug_container(app_host.podman, old, old.image):
        status, text = await apply(app_host, stack(tmp_path, lb, "2"))
        assert status is Status.FAILURE, text
        assert "serving at http://site.apps.test" in text, text
        assert "but the previous version could not be stopped" in text, text
        assert f"{old.name}: " in text and "dependent containers" in text, "which one, and podman's reason"
        assert get(lb) == "site version 2\n"
        assert old.name in {c.name for c in await app_host.list_containers({APP_LABEL: "site"}) if c.running}
    status, text = await apply(app_host, stack(tmp_path, lb, "2"))
    assert status is Status.SUCCESS, text
    (now,) = await app_host.list_containers({APP_LABEL: "site"})
    assert now.name != old.name and get(lb) == "site version 2\n"


async def test_smoke_timeout_reports_probe_and_logs_and_leaves_nothing(app_host: ContainerHost, tmp_path: Path) -> None:
    silent = stack(
        tmp_path,
        free_port(),
        "1",
        command=("sh", "-c", "echo listening nowhere; sleep 1000"),
        smoke=HttpCheck(timeout=timedelta(milliseconds=1500)),
    )
    status, text = await apply(app_host, silent)
    assert status is Status.FAILURE
    assert "within 1.5s" in text and "probe: GET http://127.0.0.1:" in text, text
    assert "listening nowhere" in text
    assert await app_host.list_containers({APP_LABEL: "site"}) == []
    assert await app_host.frontends() == []
    assert await app_host.dns_record_sets() == []


async def test_command_check_runs_inside_the_new_version(app_host: ContainerHost, tmp_path: Path) -> None:
    checked = stack(
        tmp_path,
        free_port(),
        "1",
        smoke=CommandCheck(argv=("test", "-f", "/www/index.html"), timeout=timedelta(seconds=5)),
    )
    assert (await apply(app_host, checked))[0] is Status.SUCCESS


async def test_killed_container_is_restarted_by_the_supervisor(app_host: ContainerHost, tmp_path: Path) -> None:
    lb = free_port()
    assert (await apply(app_host, stack(tmp_path, lb, "1")))[0] is Status.SUCCESS
    (info,) = await app_host.list_containers({APP_LABEL: "site"})
    pid = subprocess.run(
        app_host.podman.argv("inspect", "--format", "{{.State.Pid}}", info.name),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    os.kill(int(pid), signal.SIGKILL)
    supervisor = ContainerSupervisor(app_host, interval=0.2)

    async def restarted() -> bool:
        await supervisor.tick()
        again = await app_host.inspect_container(info.name)
        return again is not None and again.running

    await eventually(restarted, what="the killed container running again")
    assert supervisor.restarts >= 1

    async def served() -> bool:
        try:
            return await asyncio.to_thread(get, lb) == "site version 1\n"
        except OSError:
            return False

    await eventually(served, what="the load balancer serving the restarted container")


async def test_a_restarted_harmony_adopts_its_containers_without_duplicates(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    assert (await apply(app_host, stack(tmp_path, lb, "1")))[0] is Status.SUCCESS
    # A new process builds everything afresh on the same state: new adapters, new topology, new Maestro.
    again = ContainerHost(
        name="after-restart", podman=same_store(app_host.podman), haproxy=app_host.haproxy, dnsmasq=app_host.dnsmasq
    )
    status, text = await apply(again, stack(tmp_path, lb, "1"))
    assert status is Status.NOOP, text
    assert len(await again.list_containers({APP_LABEL: "site"})) == 1
    assert get(lb) == "site version 1\n"


async def test_load_balancer_port_taken_fails_clearly_and_leaves_nothing(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        status, text = await apply(app_host, stack(tmp_path, taken, "1"))
    assert status is Status.FAILURE
    assert f"127.0.0.1:{taken}" in text, text
    assert await app_host.list_containers({APP_LABEL: "site"}) == []
    assert await app_host.frontends() == []
    assert await app_host.dns_record_sets() == []


async def test_unknown_image_is_a_clear_failure(app_host: ContainerHost, tmp_path: Path) -> None:
    app = stack(tmp_path, free_port(), "1")[1]
    status, text = await apply(app_host, [app.model_copy(update={"image": ImageRef("localhost/nope:1")})])
    assert status is Status.FAILURE
    assert "image 'localhost/nope:1' is not in the local store" in text, text
    assert await app_host.list_containers() == []


async def test_missing_volume_source_is_a_clear_failure(app_host: ContainerHost, tmp_path: Path) -> None:
    missing = PurePosixPath(tmp_path / "no-such-dir")
    mount = VolumeMount(source=missing, target=PurePosixPath("/data"))
    status, text = await apply(app_host, stack(tmp_path, free_port(), "1", volumes=(mount,)))
    assert status is Status.FAILURE
    assert f"volume source {missing} does not exist" in text, text
    assert await app_host.list_containers() == []


async def test_a_leftover_of_an_interrupted_apply_is_smoke_tested_before_it_gets_traffic(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    assert (await apply(app_host, stack(tmp_path, lb, "1")))[0] is Status.SUCCESS
    image, app = stack(tmp_path, lb, "2")
    assert isinstance(image, BusyboxImage)
    assert isinstance(app, Application)
    await Maestro(app_host).apply([image])
    # As if an earlier apply died right after starting version 2, whose process does not serve.
    leftover = app.container_spec(app.version(None)).model_copy(update={"command": ("sleep", "1000")})
    await app_host.run_container(leftover)
    status, text = await apply(
        app_host, [image, app.model_copy(update={"smoke": HttpCheck(timeout=timedelta(milliseconds=1500))})]
    )
    assert status is Status.FAILURE, text
    assert "failed its smoke check" in text
    assert get(lb) == "site version 1\n"
    assert [c.name for c in await app_host.list_containers({APP_LABEL: "site"})] != [leftover.name]
    assert await app_host.inspect_container(leftover.name) is None


async def test_a_container_that_crashes_at_start_fails_with_its_last_log_lines(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    image = stack(tmp_path, free_port(), "1")[0]
    assert isinstance(image, BusyboxImage)
    crashing = Container(
        spec=ContainerSpec(
            name=ContainerName("crasher"), image=image.ref, command=("sh", "-c", "echo missing DATABASE_URL; exit 2")
        ),
        after=(image.name,),
    )
    status, text = await apply(app_host, [image, crashing])
    assert status is Status.FAILURE
    assert "exit code 2" in text and "missing DATABASE_URL" in text, text
    assert await app_host.inspect_container("crasher") is None


async def test_replicas_all_serve_behind_the_load_balancer_and_upgrade_together(
    app_host: ContainerHost, tmp_path: Path
) -> None:
    lb = free_port()
    status, text = await apply(app_host, stack(tmp_path, lb, "1", replicas=2))
    assert status is Status.SUCCESS, text
    (frontend,) = await app_host.frontends()
    first = sorted(b.name for b in frontend.backends)
    assert len(first) == 2
    assert sorted(c.name for c in await app_host.list_containers({APP_LABEL: "site"})) == first
    with ClientLoop(f"http://127.0.0.1:{lb}/index.html") as client:
        await asyncio.sleep(0.2)
        status, text = await apply(app_host, stack(tmp_path, lb, "2", replicas=2))
        await asyncio.sleep(0.2)
    assert status is Status.SUCCESS, text
    assert client.failures == []
    assert client.requests >= 10
    (frontend,) = await app_host.frontends()
    second = sorted(b.name for b in frontend.backends)
    assert len(second) == 2 and not set(first) & set(second)
    assert sorted(c.name for c in await app_host.list_containers({APP_LABEL: "site"})) == second
    assert get(lb) == "site version 2\n"
