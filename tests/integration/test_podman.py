"""The podman adapter against real rootful podman, one isolated store per test."""

from __future__ import annotations

import socket
import subprocess
import urllib.request
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.containers import (
    ContainerName,
    ContainerSpec,
    EnvName,
    ImageRef,
    PortMapping,
    ResourceLimits,
    VolumeMount,
)
from harmony.domain.errors import ContainerStartError, ForeignContainerError, ImageNotFoundError
from harmony.domain.values import Port
from harmony.infra.podman import Podman
from tests.fixtures.podman import ImageMaker, podman_in, wipe


def http_get(port: int, path: str = "/") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.read().decode()


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


def raw(podman: Podman, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(podman.argv(*args), capture_output=True, text=True, check=False, timeout=120)


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
    assert raw(podman, "save", "-o", str(archive), built.qualified).returncode == 0

    other = podman_in(tmp_path / "other-store")
    try:
        loaded = await other.load_image(PurePosixPath(archive))
        assert [t for i in loaded for t in i.tags] == ["localhost/built:1"]
        info = await other.run_container(web("built", built))
        port = info.host_port(8080)
        assert port is not None
        assert http_get(port, "/index.html") == (200, "built offline\n")
    finally:
        wipe(other)


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
    assert http_get(port, "/note.txt") == (200, "from the host\n")
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
    assert raw(podman, "run", "-d", "--name", "theirs", busybox_image.qualified, "sleep", "1000").returncode == 0
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


async def test_unknown_image_names_the_image_and_what_exists(podman: Podman, busybox_image: ImageRef) -> None:
    with pytest.raises(ImageNotFoundError, match=r"localhost/nope:1.*localhost/busybox:test"):
        await podman.run_container(ContainerSpec(name=ContainerName("x"), image=ImageRef("localhost/nope:1")))
    assert raw(podman, "ps", "-aq").stdout == ""


async def test_port_already_taken_is_a_clear_error_and_leaves_nothing(podman: Podman, busybox_image: ImageRef) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        spec = web("web", busybox_image, ports=(PortMapping(container=Port(8080), host=Port(taken)),))
        with pytest.raises(ContainerStartError, match=rf"127.0.0.1:{taken}.*address already in use"):
            await podman.run_container(spec)
    assert raw(podman, "ps", "-aq").stdout == ""


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
    assert raw(podman, "ps", "-aq").stdout == ""


async def test_process_that_exits_at_once_reports_its_last_log_lines(podman: Podman, busybox_image: ImageRef) -> None:
    spec = ContainerSpec(
        name=ContainerName("crash"), image=busybox_image, command=("sh", "-c", "echo cannot open config; exit 3")
    )
    with pytest.raises(ContainerStartError, match="exit code 3") as e:
        await podman.run_container(spec)
    assert "cannot open config" in e.value.evidence
    assert raw(podman, "ps", "-aq").stdout == ""


async def test_resource_limits_reach_the_container(podman: Podman, busybox_image: ImageRef) -> None:
    spec = ContainerSpec(
        name=ContainerName("limited"),
        image=busybox_image,
        command=("sleep", "1000"),
        limits=ResourceLimits(memory_mib=64, cpus=0.5, pids=50),
    )
    await podman.run_container(spec)
    shown = raw(
        podman,
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        "limited",
    )
    assert shown.stdout.split() == [str(64 * 1024 * 1024), "500000000", "50"]
