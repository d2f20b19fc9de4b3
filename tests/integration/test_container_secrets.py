"""A ``Secret`` in a container's environment, through the Maestro against real podman, here and over SSH.

The secret must reach the container's environment verbatim and nothing else: not the plan or its events, not
the journal's files, not any process's command line while the apply runs (lab hosts share this machine's
process table, so one scan of ``/proc`` sees both). Rotating it replaces the container; the same value
again is a NOOP.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Generator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, EnvName, ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.secret import Secret
from harmony.domain.values import Hostname, Port
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.infra.podman import Podman
from harmony.maestro import Maestro
from harmony.maestro.events import Event
from harmony.maestro.journal import Journal
from harmony.modules.application import Application, BusyboxImage, Container, HttpCheck
from harmony.modules.application.application import APP_LABEL
from harmony.modules.application.exposure import Exposure
from harmony.topology.container_host import ContainerHost
from tests.fixtures.ports import free_port
from tests.integration.test_podman import podman  # noqa: F401  # pyright: ignore[reportUnusedImport]  # the fixture

# Spaces, quotes, '#', '=' and a backslash: podman's env file takes the rest of the line verbatim.
TRICKY = " p@ss w0rd=\"#x' \\n "


def host_on(podman: Podman, tmp_path: Path) -> ContainerHost:  # noqa: F811  # a parameter, not the fixture
    """A container host whose podman is ``podman`` (its load balancer and DNS are never started here)."""
    return ContainerHost(
        name="containers",
        podman=podman,
        haproxy=Haproxy(state_dir=tmp_path / "haproxy"),
        dnsmasq=Dnsmasq(state_dir=tmp_path / "dnsmasq", port=free_port(), interfaces=("lo",)),
    )


def worker(image: ImageRef, password: Secret) -> Container:
    spec = ContainerSpec(
        name=ContainerName("worker"),
        image=image,
        command=("sleep", "1000"),
        env={EnvName("DB_USER"): "app", EnvName("DB_PASSWORD"): password},
    )
    return Container(spec=spec, stop_grace=timedelta(0))


@contextmanager
def command_lines_containing(needles: list[bytes]) -> Generator[list[bytes]]:
    """Every ``/proc/*/cmdline`` seen holding one of ``needles`` while the block runs (scanned continuously)."""
    found: list[bytes] = []
    done = threading.Event()

    def scan() -> None:
        while not done.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    line = path.read_bytes()
                except OSError:
                    continue
                if any(n in line for n in needles):
                    found.append(line)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        done.set()
        thread.join()


async def container_env(podman: Podman, name: str) -> dict[str, str]:  # noqa: F811
    status, out = await podman.exec_in_container(name, ["env"], timeout=30)
    assert status == 0, out
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def journal_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


async def test_secret_env_reaches_the_container_only_and_rotation_redeploys(
    podman: Podman,  # noqa: F811
    busybox_image: ImageRef,
    tmp_path: Path,
) -> None:
    host = host_on(podman, tmp_path)
    first_token, second_token = f"first-{secrets.token_hex(8)}", f"second-{secrets.token_hex(8)}"
    first, second = Secret(first_token + TRICKY), Secret(second_token + TRICKY)
    # The random part alone, not "first-": other processes on the machine (a CI runner's own scripts) may hold that.
    needles = [first.reveal().encode(), second.reveal().encode(), first_token.encode(), second_token.encode()]
    journal_dir = tmp_path / "journal"
    journal = Journal(journal_dir / "journal.db")
    events: list[Event] = []
    maestro = Maestro(host, journal=journal, on_event=events.append)
    try:
        with command_lines_containing(needles) as seen:
            plan = await maestro.plan([worker(busybox_image, first)])
            applied = await maestro.apply([worker(busybox_image, first)])
            again = await maestro.apply([worker(busybox_image, first)])
            rotated_plan = await maestro.plan([worker(busybox_image, second)])
            rotated = await maestro.apply([worker(busybox_image, second)])
            settled = await maestro.apply([worker(busybox_image, second)])
        assert (applied.status, again.status) == (Status.SUCCESS, Status.NOOP)
        assert (rotated.status, settled.status) == (Status.SUCCESS, Status.NOOP)
        assert [c.action for r in rotated_plan.results for c in r.changes] == ["update"]
        env = await container_env(podman, "worker")
        assert env["DB_PASSWORD"] == second.reveal() and env["DB_USER"] == "app"

        assert seen == [], "a secret was on a command line"
        shown = "\n".join(
            [e.model_dump_json() for e in events]
            + [f"{c.target} {c.diff}" for report in (plan, rotated_plan) for r in report.results for c in r.changes]
            + [repr(r.outcome) for report in (applied, rotated) for r in report.results]
        )
        assert "first-" not in shown and "second-" not in shown
        journal.close()
        stored = journal_bytes(journal_dir)
        assert stored, "the journal was written"
        assert b"first-" not in stored and b"second-" not in stored
        info = await podman.inspect_container("worker")
        assert info is not None and "second-" not in repr(info.labels)
        leftovers = await podman.connector.run_command(["sh", "-c", "ls -d /tmp/harmony-env-* 2>/dev/null"], timeout=30)
        assert leftovers.stdout == "", "the env file's directory was removed"
    finally:
        journal.close()


async def test_a_rotated_application_secret_is_a_blue_green_redeploy(app_host: ContainerHost, tmp_path: Path) -> None:
    lb = free_port()

    def site(token: Secret) -> list[BusyboxImage | Application]:
        image = BusyboxImage(
            ref=ImageRef("localhost/site:live"), files={"www/index.html": "site\n"}, staging_dir=PurePosixPath(tmp_path)
        )
        app = Application(
            app=ResourceName("site"),
            image=image,
            port=Port(8080),
            command=("httpd", "-f", "-p", "8080", "-h", "/www"),
            env={EnvName("API_TOKEN"): token},
            expose=Exposure(hostname=Hostname("site.apps.test"), zone=Hostname("apps.test"), port=Port(lb)),
            smoke=HttpCheck(path="/index.html", expect_body="site", timeout=timedelta(seconds=10)),
            stop_grace=timedelta(0),
        )
        return [image, app]

    async def serving() -> tuple[str, str]:
        (container,) = await app_host.list_containers({APP_LABEL: "site"})
        return container.name, (await container_env(app_host.podman, container.name))["API_TOKEN"]

    first, second = Secret(f"first-{secrets.token_hex(8)}"), Secret(f"second-{secrets.token_hex(8)}")
    maestro = Maestro(app_host)
    assert (await maestro.apply(site(first))).status is Status.SUCCESS
    assert (await maestro.apply(site(first))).status is Status.NOOP
    old_name, token = await serving()
    assert token == first.reveal()
    rotated = await maestro.apply(site(second))
    assert rotated.status is Status.SUCCESS
    assert "second-" not in repr(rotated) and "first-" not in repr(rotated)
    new_name, token = await serving()
    assert token == second.reveal() and new_name != old_name, "a new version replaced the old one"
    assert (await maestro.apply(site(second))).status is Status.NOOP
