"""The container supervisor on real podman: health checks, restart policies, foreign containers."""

from __future__ import annotations

import asyncio
import subprocess

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.domain.capabilities.containers import ContainerHealthCheck, ContainerSpec, ImageRef
from harmony.infra.podman import Podman


def sleeper(name: str, image: ImageRef, **kw: object) -> ContainerSpec:
    return ContainerSpec.model_validate({"name": name, "image": image, "command": ("sleep", "1000"), **kw})


async def test_unhealthy_container_is_restarted_after_its_retries_and_healthy_one_is_left(
    podman: Podman, busybox_image: ImageRef
) -> None:
    await podman.run_container(
        sleeper("sick", busybox_image, health=ContainerHealthCheck(command=("false",), retries=2))
    )
    await podman.run_container(
        sleeper("fine", busybox_image, health=ContainerHealthCheck(command=("true",), retries=2))
    )
    supervisor = ContainerSupervisor(podman, grace=1)
    first = {d.container: d.action for d in await supervisor.tick()}
    assert first == {"sick": "wait", "fine": "leave"}
    second = {d.container: d.action for d in await supervisor.tick()}
    assert second == {"sick": "restart", "fine": "leave"}
    assert supervisor.restarts == 1
    sick = await podman.inspect_container("sick")
    assert sick is not None and sick.running


async def test_policies_and_foreign_containers(podman: Podman, busybox_image: ImageRef) -> None:
    # Each lives well past run_container's settle check (SETTLE_SECONDS) even on a loaded machine, then exits.
    await podman.run_container(
        sleeper("done", busybox_image, command=("sh", "-c", "sleep 3; exit 0"), restart="on-failure")
    )
    await podman.run_container(sleeper("crashy", busybox_image, command=("sh", "-c", "sleep 3; exit 3")))
    await podman.run_container(sleeper("never", busybox_image, command=("sh", "-c", "sleep 3; exit 3"), restart="no"))
    theirs = subprocess.run(
        podman.argv("run", "-d", "--name", "theirs", busybox_image.qualified, "sh", "-c", "exit 1"),
        capture_output=True, check=False,
    )  # fmt: skip
    assert theirs.returncode == 0
    supervisor = ContainerSupervisor(podman)
    for _ in range(300):  # a bounded wait for the three to exit, not a timing assertion
        states = {c.name: c.state for c in await podman.list_containers()}
        if states.get("crashy") == "exited" and states.get("never") == "exited" and states.get("done") == "exited":
            break
        await asyncio.sleep(0.1)
    decisions = {d.container: d.action for d in await supervisor.tick()}
    assert decisions == {"done": "leave", "crashy": "restart", "never": "leave"}
    foreign = await podman.inspect_container("theirs")
    assert foreign is not None and foreign.state == "exited"
