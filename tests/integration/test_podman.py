"""The podman adapter against real rootful podman, one isolated store per test: on this machine and on an
SSH lab host (the same adapter through the host's connector; ports are published on that host's loopback,
so they are fetched from there)."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import shutil
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.containers import (
    MANAGED_LABEL,
    POD_LABEL,
    ContainerInfo,
    ContainerName,
    ContainerSpec,
    EnvName,
    ImageRef,
    PortMapping,
    ResourceLimits,
    VolumeMount,
)
from harmony.domain.errors import ContainerError, ContainerStartError, ForeignContainerError, ImageNotFoundError
from harmony.domain.units import MiB
from harmony.domain.values import Port, ip_address
from harmony.infra.curl_probe import CurlProbe
from harmony.infra.podman import Podman, pod_create_argv
from harmony.testing.ssh_lab import SshLab
from tests.fixtures.podman import ImageMaker, podman_in, wipe_store
from tests.fixtures.ports import free_port
from tests.fixtures.ssh_hosts import lab_hosts


@pytest.fixture(params=["local", "ssh"])
async def podman(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Podman]:
    """An isolated store on this machine, or on the first SSH lab host (in its private ``/srv``)."""
    if shutil.which("podman") is None or shutil.which("runc") is None:
        pytest.fail("podman and runc are required; run scripts/install")
    if request.param == "local":
        runtime = podman_in(tmp_path / "podman")
        try:
            yield runtime
        finally:
            await wipe_store(runtime)
        return
    lab: SshLab = request.getfixturevalue("ssh_lab")
    host = lab_hosts(lab)[0]
    await host.ensure_ready()
    runtime = Podman.isolated(PurePosixPath(f"/srv/podman-{secrets.token_hex(4)}"), host.connector)
    try:
        await runtime.prepare()
        yield runtime
    finally:
        await wipe_store(runtime)
        await host.close()


def store_beside(podman: Podman, name: str) -> Podman:
    """Another isolated store on the same host as ``podman``."""
    base = podman.conf.parent.parent if podman.conf is not None else PurePosixPath("/srv")
    return Podman.isolated(base / name, podman.connector)


async def http_get(podman: Podman, port: int, path: str = "/") -> tuple[int, str]:
    """GET from the host the containers run on (their ports are published on its loopback)."""
    result = await CurlProbe(podman.connector).http_get(
        ip_address("127.0.0.1"), Port(port), path, host="localhost", timeout=5
    )
    assert result.ok, result.detail
    return result.status or 0, result.body


def web(name: str, image: ImageRef, **kw: object) -> ContainerSpec:
    return ContainerSpec.model_validate(
        {
            "name": name,
            "image": image,
            "command": ("httpd", "-f", "-p", "8080", "-h", "/www"),
            "ports": (PortMapping(container=Port(8080)),),
            **kw,
        }
    )


async def raw(podman: Podman, *args: str) -> CommandResult:
    """podman itself on the store's host, the way a user would look around."""
    return await podman.connector.run_command(podman.argv(*args), timeout=120)


async def test_images_import_tag_list_remove(podman: Podman, rootfs_tar: ImageMaker) -> None:
    ref = ImageRef("localhost/site:1")
    info = await podman.import_image(rootfs_tar({"www/index.html": "v1"}), ref)
    await podman.tag_image(ref, ImageRef("localhost/site:stable"))
    tags = {t for i in await podman.list_images() for t in i.tags}
    assert {"localhost/site:1", "localhost/site:stable"} <= tags
    assert (await podman.inspect_image(ImageRef("site:stable"))) == (await podman.inspect_image(ref))
    assert info.id
    await podman.remove_image(ImageRef("localhost/site:stable"))
    assert await podman.inspect_image(ImageRef("localhost/site:stable")) is None
    assert await podman.inspect_image(ref) is not None


async def test_build_from_directory_and_load_archive(podman: Podman, busybox_image: ImageRef, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "index.html").write_text("built offline\n")
    (context / "Containerfile").write_text(f"FROM {busybox_image.qualified}\nCOPY index.html /www/index.html\n")
    built = ImageRef("localhost/built:1")
    await podman.build_image(PurePosixPath(context), built)
    archive = tmp_path / "built.tar"
    assert (await raw(podman, "save", "-o", str(archive), built.qualified)).ok

    other = store_beside(podman, f"other-{secrets.token_hex(4)}")
    await other.prepare()
    try:
        loaded = await other.load_image(PurePosixPath(archive))
        assert [t for i in loaded for t in i.tags] == ["localhost/built:1"]
        info = await other.run_container(web("built", built))
        port = info.host_port(8080)
        assert port is not None
        assert await http_get(other, port, "/index.html") == (200, "built offline\n")
    finally:
        await wipe_store(other)


async def test_run_with_env_port_volume_labels_then_logs_exec_stop(
    podman: Podman, busybox_image: ImageRef, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "note.txt").write_text("from the host\n")
    spec = ContainerSpec(
        name=ContainerName("svc"),
        image=busybox_image,
        command=("sh", "-c", "echo started $GREETING; exec httpd -f -v -p 8080 -h /data"),
        env={EnvName("GREETING"): "hi"},
        ports=(PortMapping(container=Port(8080)),),
        volumes=(VolumeMount(source=PurePosixPath(data), target=PurePosixPath("/data"), read_only=True),),
        labels={"io.harmony.app": "svc"},
    )
    info = await podman.run_container(spec)
    assert info.running and info.labels["io.harmony.app"] == "svc"
    port = info.host_port(8080)
    assert port is not None
    assert await http_get(podman, port, "/note.txt") == (200, "from the host\n")
    assert "started hi" in await podman.container_logs("svc", tail=5)
    assert await podman.exec_in_container("svc", ["cat", "/data/note.txt"], timeout=10) == (0, "from the host\n")
    assert [c.name for c in await podman.list_containers({"io.harmony.app": "svc"})] == ["svc"]
    await podman.stop_container("svc", grace=5)
    stopped = await podman.inspect_container("svc")
    assert stopped is not None and not stopped.running
    await podman.remove_container("svc")
    assert await podman.inspect_container("svc") is None


async def test_follow_logs_streams_lines(podman: Podman, busybox_image: ImageRef) -> None:
    spec = ContainerSpec(
        name=ContainerName("ticker"),
        image=busybox_image,
        command=("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"),
    )
    await podman.run_container(spec)
    seen: list[str] = []
    async for line in podman.follow_logs("ticker"):
        seen.append(line)
        if len(seen) == 3:
            break
    assert seen[0].startswith("tick ")
    assert len(seen) == 3


async def test_foreign_containers_are_never_listed_or_touched(podman: Podman, busybox_image: ImageRef) -> None:
    assert (await raw(podman, "run", "-d", "--name", "theirs", busybox_image.qualified, "sleep", "1000")).ok
    await podman.run_container(
        ContainerSpec(name=ContainerName("ours"), image=busybox_image, command=("sleep", "1000"))
    )
    assert [c.name for c in await podman.list_containers()] == ["ours"]
    with pytest.raises(ForeignContainerError, match="theirs"):
        await podman.stop_container("theirs")
    with pytest.raises(ForeignContainerError):
        await podman.remove_container("theirs")
    with pytest.raises(ForeignContainerError):
        await podman.run_container(ContainerSpec(name=ContainerName("theirs"), image=busybox_image))
    theirs = await podman.inspect_container("theirs")
    assert theirs is not None and theirs.running


async def test_containers_take_turns_in_a_pod_that_keeps_its_port_and_outlives_them(
    podman: Podman, busybox_image: ImageRef
) -> None:
    pod = ContainerName("site-a1-8080")
    first = await podman.run_container(web("v1", busybox_image, pod=pod))  # the pod is created with it
    port = first.host_port(8080)
    assert port is not None and first.labels[POD_LABEL] == pod
    assert await podman.list_pods() == [pod]
    (listed,) = await podman.list_container_summaries()
    assert listed.name == "v1" and listed.host_port(8080) == port, "the pod's infra container is not Harmony's"
    assert await http_get(podman, port) == (200, "hello from busybox\n")

    await podman.remove_container("v1", grace=0)
    assert await podman.list_pods() == [pod], "the pod outlives its container"
    second = await podman.run_container(web("v2", busybox_image, pod=pod))
    assert second.host_port(8080) == port, "the next container joins the pod on the same port"
    assert await http_get(podman, port) == (200, "hello from busybox\n")

    assert (await raw(podman, "pod", "create", "--name", "theirs")).ok
    await podman.remove_pod("theirs")
    assert (await raw(podman, "pod", "exists", "theirs")).ok, "a pod Harmony did not make is not touched"
    # Nor a container someone put in Harmony's pod (an operator's debug shell): the pod stays, with both.
    assert (await raw(podman, "run", "-d", "--name", "shell", "--pod", pod, busybox_image.qualified, "sleep", "99")).ok
    with pytest.raises(ContainerError, match=r"pod site-a1-8080 holds containers Harmony did not create \(shell\)"):
        await podman.remove_pod(pod)
    assert await podman.list_pods() == [pod] and (await raw(podman, "container", "exists", "shell")).ok
    assert (await podman.inspect_container("v2")) is not None
    assert (await raw(podman, "rm", "-f", "-t", "0", "shell")).ok
    await podman.remove_pod(pod)
    assert await podman.list_pods() == [] and await podman.inspect_container("v2") is None
    await podman.remove_pod(pod)  # gone already is fine
    third = await podman.run_container(web("v3", busybox_image, pod=pod))
    assert third.running and await podman.list_pods() == [pod], "a removed pod is created again"


async def test_a_start_into_a_pod_seen_running_joins_it_by_id_without_a_look_and_a_pod_made_again_is_looked_at(
    podman: Podman, busybox_image: ImageRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = ContainerName("site-a1-8080")
    await podman.run_container(web("v1", busybox_image, pod=pod), settle=False)  # a new pod: looked at
    await podman.remove_container("v1", grace=0)
    inspect = podman.inspect_container
    looked: list[str] = []

    async def counted(name: str) -> ContainerInfo | None:  # counts the real looks
        looked.append(name)
        return await inspect(name)

    monkeypatch.setattr(podman, "inspect_container", counted)
    second = await podman.run_container(web("v2", busybox_image, pod=pod), settle=False)
    assert looked == [], "the pod's id and ports were known: no look after the start"
    actual = await inspect("v2")
    assert actual is not None and actual.running
    assert (second.id, second.name, second.labels, second.ports) == (
        actual.id,
        actual.name,
        actual.labels,
        actual.ports,
    )
    port = second.host_port(8080)
    assert port is not None and await http_get(podman, port) == (200, "hello from busybox\n")

    # The pod removed and made again by hand (another id, maybe another port): the start by the old id finds no
    # such pod, joins the new one by its name, and looks at what it got.
    await podman.remove_container("v2", grace=0)
    assert (await raw(podman, "pod", "rm", "-f", pod)).ok
    assert (await raw(podman, *pod_create_argv(pod, (PortMapping(container=Port(8080)),)))).ok
    third = await podman.run_container(web("v3", busybox_image, pod=pod), settle=False)
    assert "v3" in looked
    actual = await inspect("v3")
    assert actual is not None and (third.id, third.ports) == (actual.id, actual.ports)
    port = third.host_port(8080)
    assert port is not None and await http_get(podman, port) == (200, "hello from busybox\n")


async def test_a_pod_whose_creation_was_killed_midway_is_made_again_when_a_container_joins(
    podman: Podman, busybox_image: ImageRef
) -> None:
    """A SIGKILL between ``pod create``'s pod and its infra container leaves a pod no container can join ("pod has
    no infra container"), for good. Produced for real: the kill comes later and later until it lands there."""
    # A first pod builds podman's pause image (a second or so); the kills then land in the creation alone.
    assert (await raw(podman, "pod", "create", "--name", "first")).ok
    pod = ContainerName("cut-a1-8080")
    create = shlex.join(podman.argv(*pod_create_argv(pod, (PortMapping(container=Port(8080)),))))
    for delay in range(5, 500, 5):
        kill = f"{create} >/dev/null 2>&1 & pid=$!; sleep {delay / 1000}; kill -9 $pid 2>/dev/null; wait $pid; true"
        await podman.connector.run_command(["sh", "-c", kill], timeout=60)
        infra = await raw(podman, "pod", "inspect", "--format", "{{.InfraContainerID}}", pod)
        if infra.ok and not infra.stdout.strip():
            break
        assert (await raw(podman, "pod", "rm", "-f", "-t", "0", "--ignore", pod)).ok
    else:
        pytest.fail("no kill between 5 and 500 ms left a pod without its infra container")
    refused = await raw(podman, "run", "-d", "--pod", pod, busybox_image.qualified, "true")
    assert "pod has no infra container" in refused.stderr, refused.stderr

    joined = await podman.run_container(web("after", busybox_image, pod=pod))
    assert joined.running and joined.host_port(8080) is not None
    assert await http_get(podman, joined.host_port(8080) or 0) == (200, "hello from busybox\n")
    assert await podman.list_pods() == [pod], "the pod of before is gone, and the other one is not Harmony's"


async def test_two_containers_joining_a_missing_pod_at_once_both_run_in_one_pod(
    podman: Podman, busybox_image: ImageRef
) -> None:
    pod = ContainerName("pair-a1-8080")
    sleepers = [
        ContainerSpec(name=ContainerName(n), image=busybox_image, command=("sleep", "1000"), pod=pod) for n in "xy"
    ]
    x, y = await asyncio.gather(*(podman.run_container(s) for s in sleepers))
    assert x.running and y.running and x.labels[POD_LABEL] == y.labels[POD_LABEL] == pod
    assert await podman.list_pods() == [pod]


async def test_the_summary_listing_tells_what_the_full_one_does_but_restarts_and_health(
    podman: Podman, busybox_image: ImageRef
) -> None:
    first = free_port()
    ports = (  # podman lists consecutive mappings as one range: 9090-9091 -> first-first+1
        PortMapping(container=Port(8080)),
        PortMapping(container=Port(9090), host=Port(first)),
        PortMapping(container=Port(9091), host=Port(first + 1)),
    )
    labels = {"io.harmony.app": "site"}
    await podman.run_container(
        ContainerSpec(
            name=ContainerName("up"), image=busybox_image, command=("sleep", "1000"), ports=ports, labels=labels
        )
    )
    await podman.run_container(
        ContainerSpec(
            name=ContainerName("done"), image=busybox_image, command=("sh", "-c", "sleep 2; exit 3"), labels=labels
        )
    )
    assert (await raw(podman, "wait", "done")).ok
    created = await raw(
        podman, "create", "--name", "never", f"--label={MANAGED_LABEL}=true", busybox_image.qualified, "true"
    )
    assert created.ok, created.stderr
    assert (await raw(podman, "run", "-d", "--name", "theirs", busybox_image.qualified, "sleep", "1000")).ok

    full = {c.name: c for c in await podman.list_containers()}
    summaries = {c.name: c for c in await podman.list_container_summaries()}
    assert sorted(summaries) == sorted(full) == ["done", "never", "up"], "only Harmony's, in any state"
    for name, info in full.items():
        assert summaries[name].model_dump() == info.model_dump(exclude={"restarts", "health_retries"}), name
    assert summaries["up"].running and summaries["up"].host_port(9091) == first + 1
    assert summaries["up"].host_port(8080) is not None
    assert (summaries["done"].state, summaries["done"].exit_code) == ("exited", 3)
    assert summaries["never"].state == "created"
    assert sorted(c.name for c in await podman.list_container_summaries(labels)) == ["done", "up"]


async def test_remove_as_listed_goes_by_id_and_spares_a_newer_container_of_that_name(
    podman: Podman, busybox_image: ImageRef
) -> None:
    spec = ContainerSpec(name=ContainerName("old"), image=busybox_image, command=("sleep", "1000"))
    await podman.run_container(spec)
    (listed,) = await podman.list_containers()
    await podman.remove_container("old", grace=0, listed=listed)
    assert await podman.inspect_container("old") is None
    # Listed, then replaced by another container of the same name: removing the listed one leaves the new one.
    await podman.run_container(spec)
    (stale,) = await podman.list_containers()
    await podman.remove_container("old", grace=0)
    newer = await podman.run_container(spec)
    await podman.remove_container("old", grace=0, listed=stale)
    now = await podman.inspect_container("old")
    assert now is not None and now.id == newer.id and now.running
    with pytest.raises(ValueError, match="'other'"):
        await podman.remove_container("other", listed=stale)


async def test_a_failed_start_removes_what_it_created_and_never_a_container_that_had_the_name(
    podman: Podman, busybox_image: ImageRef
) -> None:
    spec = ContainerSpec(name=ContainerName("app"), image=busybox_image, command=("sleep", "1000"))
    first = await podman.run_container(spec)
    with pytest.raises(ContainerStartError, match="a container of that name already exists; remove it first"):
        await podman.run_container(spec)
    # A start that fails leaves nothing of itself, and the first container as it was.
    broken = ContainerSpec(name=ContainerName("broken"), image=busybox_image, command=("/no/such/command",))
    with pytest.raises(ContainerStartError, match="'broken' did not start"):
        await podman.run_container(broken)
    with pytest.raises(ContainerStartError, match="already exists"):
        await podman.run_container(spec.model_copy(update={"command": ("/no/such/command",)}))
    now = await podman.inspect_container("app")
    assert now is not None and now.id == first.id and now.running
    assert (await raw(podman, "ps", "-aq")).stdout.split() == [first.id[:12]]


async def test_unknown_image_names_the_image_and_what_exists(podman: Podman, busybox_image: ImageRef) -> None:
    with pytest.raises(ImageNotFoundError, match=r"localhost/nope:1.*localhost/busybox:test"):
        await podman.run_container(ContainerSpec(name=ContainerName("x"), image=ImageRef("localhost/nope:1")))
    assert (await raw(podman, "ps", "-aq")).stdout == ""


async def test_port_already_taken_is_a_clear_error_and_leaves_nothing(podman: Podman, busybox_image: ImageRef) -> None:
    first = await podman.run_container(web("first", busybox_image))
    taken = first.host_port(8080)
    assert taken is not None
    spec = web("web", busybox_image, ports=(PortMapping(container=Port(8080), host=Port(taken)),))
    with pytest.raises(ContainerStartError, match=rf"127.0.0.1:{taken}.*address already in use"):
        await podman.run_container(spec)
    assert [c.name for c in await podman.list_containers()] == ["first"]
    assert (await raw(podman, "ps", "-aq")).stdout.split() == [first.id[:12]]


async def test_missing_volume_source_is_refused_before_anything_runs(
    podman: Podman, busybox_image: ImageRef, tmp_path: Path
) -> None:
    missing = PurePosixPath(tmp_path / "nope")
    spec = ContainerSpec(
        name=ContainerName("vol"),
        image=busybox_image,
        volumes=(VolumeMount(source=missing, target=PurePosixPath("/data")),),
    )
    with pytest.raises(ContainerStartError, match=f"volume source {missing} does not exist"):
        await podman.run_container(spec)
    assert (await raw(podman, "ps", "-aq")).stdout == ""


async def test_process_that_exits_at_once_reports_its_last_log_lines(podman: Podman, busybox_image: ImageRef) -> None:
    spec = ContainerSpec(
        name=ContainerName("crash"), image=busybox_image, command=("sh", "-c", "echo cannot open config; exit 3")
    )
    with pytest.raises(ContainerStartError, match="exit code 3") as e:
        await podman.run_container(spec)
    assert "cannot open config" in e.value.evidence
    assert (await raw(podman, "ps", "-aq")).stdout == ""


async def test_resource_limits_reach_the_container(podman: Podman, busybox_image: ImageRef) -> None:
    spec = ContainerSpec(
        name=ContainerName("limited"),
        image=busybox_image,
        command=("sleep", "1000"),
        limits=ResourceLimits(memory=MiB(64), cpus=0.5, pids=50),
    )
    await podman.run_container(spec)
    shown = await raw(
        podman,
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        "limited",
    )
    assert shown.stdout.split() == [str(64 * 1024 * 1024), "500000000", "50"]
