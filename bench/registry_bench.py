"""A 50 MB image to 10 devices through the site registry, next to a bare ``podman pull`` by the same clients.

    .venv/bin/python bench/registry_bench.py [--devices 10] [--mib 50] [--repeat 3]

One run: a site registry (two docker-registry daemons over TLS, bcrypt htpasswd) on loopback, a build host
that pushes images with a ``--mib`` MiB incompressible layer, and ``--devices`` device hosts (each its own
podman store, HAProxy, dnsmasq, read-only account) with device agents on a real nats-server. Per round:
1. **floor**: every device store runs ``podman pull --authfile --cert-dir`` of a fresh digest at once (the
   same command Harmony's adapter runs), timed until all have it; then, by hand, ``podman run -d`` of it and
   ``GET /`` until it answers, with a network and port of its own, then again into a pod made and started
   beforehand (as Harmony starts a version): pull + start, what a rollout has to do at the least;
2. **pull through Harmony**: every device host's ``pull_image`` (a look, login files, the pull) of another
   fresh digest, concurrently;
3. **fleet rollout**: ``FleetControl.deploy`` + ``drive`` of an ``Application`` pinned to a third fresh
   digest, all at once, until every device reports it serving: pull, new container beside the old one (in
   the pod the old one is not in), smoke check, load-balancer switch (each stops its old one after);
4. **rollback**: the same to the previous digest, which every device kept (``keep_images=2``): the
   blue-green part alone, without a pull;
5. **forward again, the old way**: back to the third digest (also kept), with HAProxy's runtime API reached by
   one ``socat`` per exchange as before (now in-process): the before/after of that change in the same run.
Every command Harmony runs on the devices is timed per program (``--profile`` prints the table per step).
Each round pushes three new images, so nothing is ever pulled from a warm store. Before the rounds, the site's
first two deploys (the second timed on its own: it creates each device's other pod). Medians go to
``docs/benchmarks.md`` between the markers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import date, timedelta
from ipaddress import IPv4Address
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.ports import free_port  # noqa: E402

from harmony.domain.capabilities.commands import CommandResult  # noqa: E402
from harmony.domain.capabilities.containers import ImageRef  # noqa: E402
from harmony.domain.capabilities.registry import (  # noqa: E402
    AccountName,
    RegistryAccount,
    RegistryLogin,
    RegistrySettings,
)
from harmony.domain.errors import CommandError  # noqa: E402
from harmony.domain.image_refs import PinnedImage, RepositoryRef, TaggedImage  # noqa: E402
from harmony.domain.names import ResourceName  # noqa: E402
from harmony.domain.secret import Secret  # noqa: E402
from harmony.domain.values import Hostname, Port  # noqa: E402
from harmony.fleet.control import FleetControl  # noqa: E402
from harmony.fleet.credentials import FleetHome, Identity  # noqa: E402
from harmony.fleet.device_agent import AgentSettings, DeviceAgent  # noqa: E402
from harmony.fleet.rollout import Strategy  # noqa: E402
from harmony.infra.daemon import poll_until  # noqa: E402
from harmony.infra.local_connector import LocalConnector  # noqa: E402
from harmony.infra.local_process import run_local  # noqa: E402
from harmony.infra.nats import FleetNatsServer, NatsOptions, fleet_options  # noqa: E402
from harmony.infra.programs import SOCAT  # noqa: E402
from harmony.infra.registry_login import login_files  # noqa: E402
from harmony.modules.application import Application, BusyboxImage, HttpCheck  # noqa: E402
from harmony.modules.application.application import APP_LABEL  # noqa: E402
from harmony.modules.application.exposure import Exposure  # noqa: E402
from harmony.modules.registry import RegistryImage, SiteRegistry  # noqa: E402
from harmony.topology.container_host import ContainerHost  # noqa: E402
from harmony.topology.registry_host import RegistryHost  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from app_bench import drop_store  # noqa: E402
from results import record  # noqa: E402 - bench/results.py, beside this script

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- registry-bench:start -->", "<!-- registry-bench:end -->"
BASE = ImageRef("localhost/busybox:base")
POD = "by-hand"  # the pod the by-hand start into a pod joins, on every device


def opts(identity: Identity, servers: list[str]) -> NatsOptions:
    return fleet_options(
        servers=servers, user=identity.user, password=identity.password, inbox_prefix=identity.inbox_prefix,
        name=identity.user, timeout=10.0,
    )  # fmt: skip


async def apply(score: object, host: object) -> str:
    interpret = score.interpret()  # type: ignore[attr-defined]
    outcome = await interpret.apply(host, await interpret.plan(host))
    if not outcome.ok:
        raise SystemExit(f"{score}: {outcome.message} {outcome.details}")
    return str(outcome.message)


async def push(build: ContainerHost, settings: RegistrySettings, tmp: Path, tag: str, mib: int) -> PinnedImage:
    blob = base64.b64encode(os.urandom(mib * 1024 * 1024 * 3 // 4)).decode()  # incompressible text
    image = RegistryImage(
        destination=TaggedImage(f"{settings.push_endpoint}/bench/site:{tag}"),
        containerfile=f"FROM {BASE}\nCOPY www /www\n",
        files={"www/index.html": f"fleet {tag}\n", "www/payload.txt": blob},
        staging_dir=PurePosixPath(tmp / "builds"),
    )
    await apply(image, build)
    held = await build.registry_image_labels(image.destination)
    assert held is not None
    return RepositoryRef(f"{settings.pull_endpoint}/bench/site").pinned(held[0])


async def bare_pull(host: ContainerHost, image: PinnedImage) -> None:
    (login,) = host.registry_logins
    with login_files(login) as files:
        result = await run_local([*host.podman.argv("pull", "--quiet", *files.options(), image)], timeout=600)
    if not result.ok:
        raise SystemExit(f"podman pull failed: {result.stderr}")


async def start_by_hand(host: ContainerHost, image: PinnedImage, name: str, pod: str | None = None) -> None:
    """``podman run -d`` of the pulled image (with a network and port of its own, or into ``pod``, made
    beforehand with the port), then ``GET /`` until it answers: the by-hand start."""
    own = ["-p", "127.0.0.1::8080"] if pod is None else [f"--pod={pod}"]
    argv = ["run", "-d", "--pull=never", "--init", "--name", name, *own, image]
    result = await run_local(host.podman.argv(*argv, "httpd", "-f", "-p", "8080", "-h", "/www"), timeout=600)
    if not result.ok:
        raise SystemExit(f"podman run failed: {result.stderr}")
    port = await run_local(host.podman.argv("port", name if pod is None else f"{pod}-infra", "8080"), timeout=60)
    address = port.stdout.strip().splitlines()[0]
    for _ in range(12000):  # 10 minutes at most
        if await asyncio.to_thread(answers, f"http://{address}/index.html"):
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"{name} never answered on {address}")


def cpu_since(before: resource.struct_rusage, who: int) -> float:
    now = resource.getrusage(who)
    return now.ru_utime + now.ru_stime - before.ru_utime - before.ru_stime


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU the whole machine spent busy and waiting for I/O, all cores (``/proc/stat``): the
    registry's and the kernel's work too, which no rusage of this process counts."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / tick, iowait / tick


def busy_since(before: tuple[float, float], took: float) -> str:
    busy, iowait = (now - then for now, then in zip(machine_cpu(), before, strict=True))
    return f"machine {busy / took:.2f} of {os.cpu_count()} cores busy, {iowait / took:.2f} waiting for I/O"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class CommandTimes:
    """Calls and wall time per program of every command and unix-socket exchange the devices' connectors make."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.socat = False  # HAProxy's runtime API through one socat per exchange (the old way)
        self.trace = False  # print every command as it ends: the clock, how long it took, its command line

    def note(self, program: str, took: float, argv: Sequence[str] = ()) -> None:
        if self.trace and argv:
            print(f"  {time.monotonic() % 1000:8.3f} {took:6.3f}s {' '.join(argv)[-300:]}")
        self.calls[program] = self.calls.get(program, 0) + 1
        self.seconds[program] = self.seconds.get(program, 0.0) + took

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()

    def table(self, devices: int) -> str:
        rows = sorted(self.calls, key=lambda p: -self.seconds[p])
        return "\n".join(
            f"    {p:28} {self.calls[p] / devices:6.1f} per device  {self.seconds[p] / self.calls[p]:6.3f} s each"
            for p in rows
        )

    def install(self) -> None:
        """Wrap ``LocalConnector``'s command and socket methods (instrumentation; the calls still run)."""
        run, read, exchange = LocalConnector.run_command, LocalConnector.read_command, LocalConnector.exchange_unix
        times = self

        async def run_command(
            c: LocalConnector, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
        ) -> CommandResult:
            t0 = time.monotonic()
            try:
                return await run(c, argv, stdin=stdin, timeout=timeout)
            finally:
                times.note(program_of(argv), time.monotonic() - t0, argv)

        async def read_command(
            c: LocalConnector, argv: Sequence[str], *, timeout: float | None = None
        ) -> CommandResult:
            t0 = time.monotonic()
            try:
                return await read(c, argv, timeout=timeout)
            finally:
                times.note(program_of(argv), time.monotonic() - t0, argv)

        async def exchange_unix(c: LocalConnector, path: PurePosixPath, request: bytes, *, timeout: float) -> bytes:
            t0 = time.monotonic()
            try:
                if not times.socat:
                    return await exchange(c, path, request, timeout=timeout)
                argv = SOCAT.argv("-t", f"{timeout:g}", "-", f"UNIX-CONNECT:{path}")
                result = await run_local(argv, stdin=request, timeout=timeout + 10)
                if not result.ok:
                    raise CommandError(f"unix socket {path}", result.exit_status, result.stderr)
                return result.stdout.encode()
            finally:
                times.note("socat (runtime API)" if times.socat else f"unix socket {path.name}", time.monotonic() - t0)

        LocalConnector.run_command = run_command  # type: ignore[method-assign,assignment]  # timing wrapper, bench only
        LocalConnector.read_command = read_command  # type: ignore[method-assign,assignment]
        LocalConnector.exchange_unix = exchange_unix  # type: ignore[method-assign,assignment]


def program_of(argv: Sequence[str]) -> str:
    """``podman <subcommand>`` for podman (after ``env`` and its global options), else the program's name."""
    words = [a for a in argv if "=" not in a or not a.isupper()]
    if "podman" in words:
        rest = words[words.index("podman") + 1 :]
        sub = next(
            (w for i, w in enumerate(rest) if not w.startswith("-") and (i == 0 or not rest[i - 1].startswith("--"))),
            "",
        )
        return f"podman {sub}"
    return PurePosixPath(argv[0]).name if argv else "?"


def device_host(directory: Path, name: str, login: RegistryLogin, driver: str) -> ContainerHost:
    """A device: its own store (with ``driver``; devices use overlay, the tests vfs), HAProxy and dnsmasq."""
    host = ContainerHost.isolated(directory, dns_port=free_port(), name=name, registry_logins=[login])
    host.podman.storage_driver = driver
    return host


def app(image: PinnedImage, lb: int) -> Application:
    return Application(
        app=ResourceName("site"), image=image, port=Port(8080), command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(hostname=Hostname("site.bench.test"), zone=Hostname("bench.test"), port=Port(lb)),
        smoke=HttpCheck(path="/index.html", expect_body="fleet", timeout=timedelta(seconds=60)),
        stop_grace=timedelta(milliseconds=500),
    )  # fmt: skip


async def main(
    devices: int, mib: int, repeat: int, driver: str, profile: bool, trace: bool = False, delay: float = 30.0
) -> tuple[list[dict[str, float]], float]:
    times = CommandTimes()
    times.trace = trace
    times.install()
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # the clean-up below runs
    tmp = Path(tempfile.mkdtemp(prefix="harmony-registry-bench-"))
    registry = RegistryHost.local(tmp / "registry-host")
    await registry.ensure_ready()
    accounts = [RegistryAccount(user=AccountName(f"dev-{i}"), password=Secret(f"pw-{i}")) for i in range(devices)]
    settings = RegistrySettings(
        address=IPv4Address("127.0.0.1"), pull_port=Port(free_port()), push_port=Port(free_port()),
        storage=PurePosixPath(tmp / "storage"), pusher=RegistryAccount(user=AccountName("ci"), password=Secret("ci")),
        pullers=tuple(accounts),
    )  # fmt: skip
    await apply(SiteRegistry(settings=settings), registry)
    ca = registry.site_ca_certificate()

    def login(account: RegistryAccount, endpoint: str) -> RegistryLogin:
        return RegistryLogin(endpoint=endpoint, user=account.user, password=account.password, ca_certificate=ca)

    build = ContainerHost.isolated(
        tmp / "build",
        dns_port=free_port(),
        name="build",
        registry_logins=[login(settings.pusher, settings.push_endpoint)],
    )
    await build.ensure_ready()
    await apply(BusyboxImage(ref=BASE, staging_dir=PurePosixPath(tmp / "staging")), build)

    home = FleetHome(tmp / "fleet")
    home.init(servers=["nats://127.0.0.1:0"])
    names = [f"dev-{i}" for i in range(devices)]
    identities = [home.add_device(n) for n in names]
    server = FleetNatsServer(store_dir=tmp / "nats", auth_file=home.auth_file)
    await server.start()
    hosts = [
        device_host(tmp / n, n, login(a, settings.pull_endpoint), driver) for n, a in zip(names, accounts, strict=True)
    ]
    agents: list[DeviceAgent] = []
    control = await FleetControl.connect(opts(home.control(), [server.url]))
    rounds: list[dict[str, float]] = []
    try:
        for n, host, identity in zip(names, hosts, identities, strict=True):
            await host.ensure_ready()
            await control.register(n, {"bench": "yes"})
            settings_ = AgentSettings(
                heartbeat_interval=1.0, ground_truth_interval=600.0, health_timeout=60.0, scale_down_delay=delay
            )
            agents.append(DeviceAgent(device=n, options=opts(identity, [server.url]), runtime=host,
                                      applications=host, settings=settings_))  # fmt: skip
        for agent in agents:
            await agent.start()
        lb = free_port()

        async def roll_out(image: PinnedImage, step: str = "", *, socat: bool = False) -> float:
            times.reset()
            times.socat = socat
            own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            machine = machine_cpu()
            t0 = time.monotonic()
            if times.trace:
                print(f"  {t0 % 1000:8.3f} deploy ({step})")
            everyone = Strategy(wave_timeout=600)
            await control.deploy("site", app(image, lb), selector={"bench": "yes"}, strategy=everyone)
            done = await control.drive("site")
            took = time.monotonic() - t0
            if times.trace:
                print(f"  {time.monotonic() % 1000:8.3f} every device reports it ({step})")
            times.socat = False
            if profile and step:
                cpu = cpu_since(own, resource.RUSAGE_SELF), cpu_since(children, resource.RUSAGE_CHILDREN)
                print(
                    f"  {step}: {took:.2f}s; CPU: this process (agents, control) {cpu[0]:.2f}s, the commands it ran "
                    f"{cpu[1]:.2f}s; {busy_since(machine, took)}; commands per device:\n{times.table(devices)}",
                    flush=True,
                )
            status = await control.status("site")
            if done.phase != "done" or status.healthy != devices:
                failed = "; ".join(f"{d.device}: {d.message}" for d in status.devices if d.verdict != "healthy")
                raise SystemExit(f"rollout {done.phase}: {done.reason}; {status.healthy} healthy; {failed}")

            # A device stops the old version after the scale-down delay (or at once, after its report, without
            # one): the next step starts once every device has (not timed; printed with --profile).
            async def tidy() -> bool:
                listed = await asyncio.gather(*(h.list_container_summaries({APP_LABEL: "site"}) for h in hosts))
                return all(len(containers) == 1 for containers in listed)

            if not await poll_until(tidy, timeout=600, interval=0.25):
                raise SystemExit("a device never reported its old version stopped")
            if profile and step:
                print(f"  {step}: every old version stopped {time.monotonic() - t0 - took:.2f}s later", flush=True)
            return took

        previous = await push(build, settings, tmp, "warm-up", mib)
        await roll_out(previous)  # the first deploy also starts every device's HAProxy and dnsmasq
        # A site's second deploy is the first into each device's other pod, which it creates then (once): timed
        # on its own, so that the rounds measure the rollouts of a site past its first two.
        previous = await push(build, settings, tmp, "second", mib)
        second = await roll_out(previous, "second deploy (creates the other pods)")
        for r in range(repeat):
            floor_image, pull_image, rollout_image = [await push(build, settings, tmp, f"r{r}-{k}", mib) for k in "abc"]
            children, machine = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu()
            t0 = time.monotonic()
            await asyncio.gather(*(bare_pull(h, floor_image) for h in hosts))
            floor = time.monotonic() - t0
            if profile:
                cpu = cpu_since(children, resource.RUSAGE_CHILDREN)
                print(f"  floor: {floor:.2f}s; CPU of the pulls {cpu:.2f}s; {busy_since(machine, floor)}")
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            await asyncio.gather(*(start_by_hand(h, floor_image, f"by-hand-{r}") for h in hosts))
            by_hand = floor + time.monotonic() - t0
            if profile:
                took, cpu = by_hand - floor, cpu_since(children, resource.RUSAGE_CHILDREN)
                print(f"  by hand, the start after the pull: {took:.2f}s; CPU of its commands {cpu:.2f}s")
            for h in hosts:
                await run_local(h.podman.argv("rm", "-f", "-t", "0", f"by-hand-{r}"), timeout=120)
            # Into a running pod made beforehand (as Harmony's start is: a pod outlives the versions it held):
            # the least a rollout's start costs.
            for h in hosts:
                create = ["pod", "create", "--name", POD, "--infra-name", f"{POD}-infra", "--share=net"]
                await run_local(h.podman.argv(*create, "-p", "127.0.0.1::8080"), timeout=120)
                await run_local(h.podman.argv("pod", "start", POD), timeout=120)
            t0 = time.monotonic()
            await asyncio.gather(*(start_by_hand(h, floor_image, f"by-hand-pod-{r}", POD) for h in hosts))
            in_pod = floor + time.monotonic() - t0
            if profile:
                print(f"  by hand, the start into a pod after the pull: {in_pod - floor:.2f}s")
            for h in hosts:
                await run_local(h.podman.argv("pod", "rm", "-f", "-t", "0", POD), timeout=120)
            t0 = time.monotonic()
            await asyncio.gather(*(h.pull_image(pull_image) for h in hosts))
            pulled = time.monotonic() - t0
            # Out of the stores before the rollout: newer images of the same repository would otherwise take
            # the places the rollout's pruning keeps (keep_images=2), and the rollback would have to pull.
            for h in hosts:
                for image in (floor_image, pull_image):
                    info = await h.inspect_image(image)
                    if info is not None:
                        await h.remove_image_if_unused(info.id)
            rollout = await roll_out(rollout_image, "rollout")
            back = await roll_out(previous, "rollback")  # kept on every device (keep_images=2): blue-green only
            # The next round rolls back to this one; also kept: blue-green only, HAProxy reached the old way.
            socat = await roll_out(rollout_image, "forward again, runtime API through socat", socat=True)
            previous = rollout_image
            rounds.append(
                {
                    "floor": floor,
                    "hand": by_hand,
                    "pod": in_pod,
                    "pull": pulled,
                    "rollout": rollout,
                    "back": back,
                    "socat": socat,
                }
            )
            print(
                f"round {r + 1}: floor {floor:.2f}s, by hand pull+run {by_hand:.2f}s, into a pod {in_pod:.2f}s, "
                f"harmony pull {pulled:.2f}s, "
                f"rollout {rollout:.2f}s, rollback to the kept image {back:.2f}s, "
                f"the same with socat for the runtime API {socat:.2f}s",
                flush=True,
            )
    finally:  # whatever stopped the run (an error, SIGTERM): the stores, daemons and gigabytes go in any case
        with contextlib.suppress(Exception):
            for agent in agents:
                await agent.stop()
            await control.close()
        await server.stop()
        for host in [*hosts, build]:
            await host.stop_services()
            drop_store(host.podman)
        await registry.stop_registry()
        shutil.rmtree(tmp, ignore_errors=True)  # the registry's and the stores' images: gigabytes a run
    return rounds, second


def write_doc(rounds: list[dict[str, float]], second: float, devices: int, mib: int, driver: str, delay: float) -> None:
    floor = statistics.median(r["floor"] for r in rounds)
    pulled = statistics.median(r["pull"] for r in rounds)
    rollout = statistics.median(r["rollout"] for r in rounds)
    back = statistics.median(r["back"] for r in rounds)
    hand = statistics.median(r["hand"] for r in rounds)
    in_pod = statistics.median(r["pod"] for r in rounds)
    socat = statistics.median(r["socat"] for r in rounds)
    note = f"{mib} MiB to {devices} devices, median of {len(rounds)}"
    record("registry", "fleet rollout / bare podman pull", rollout / floor, "x", target=1.3, note=note)
    record("registry", "blue-green only (no pull) / bare podman pull", back / floor, "x", note=note)
    record("registry", "blue-green only, runtime API through socat / bare podman pull", socat / floor, "x", note=note)
    table = "\n".join(
        [
            START,
            f"_Measured {date.today()} on this project's 2-core machine (shared), median of {len(rounds)} rounds; "
            f"a {mib} MiB incompressible layer to {devices} devices, podman's {driver} storage driver; "
            "ratio to the floor in brackets. "
            "Rerun: `.venv/bin/python bench/registry_bench.py`._",
            "",
            "| step | time |",
            "|---|---:|",
            f"| floor: bare `podman pull` by digest by the {devices} clients at once | {floor:.2f} s (1.0×) |",
            f"| by hand: that pull, then `podman run -d` and `GET /` until it answers, on the {devices} clients "
            f"| {hand:.2f} s ({hand / floor:.1f}×) |",
            "| by hand: that pull, then `podman run -d` into a running pod made beforehand (as Harmony starts a "
            f"version) and `GET /` until it answers: the least a rollout's pull and start cost | {in_pod:.2f} s "
            f"({in_pod / floor:.2f}×) |",
            f"| Harmony `pull_image` on the {devices} device hosts at once | {pulled:.2f} s ({pulled / floor:.1f}×) |",
            "| fleet rollout (deploy until every device serves it: pull, blue-green start, smoke check, LB switch; "
            f"each stops its old version {delay:g} s later, the agents' scale-down delay) "
            f"| {rollout:.2f} s ({rollout / floor:.2f}×) |",
            f"| once per site, its second deploy: the same rollout, each device also creating its other pod "
            f"| {second:.2f} s ({second / floor:.1f}×) |",
            f"| fleet rollout back to the previous digest, still on every device (no pull: blue-green only) "
            f"| {back:.2f} s ({back / floor:.1f}×) |",
            f"| the same, HAProxy's runtime API through one `socat` per exchange (before this change) "
            f"| {socat:.2f} s ({socat / floor:.1f}×) |",
            END,
        ]
    )
    text = DOC.read_text()
    if START in text:
        text = text[: text.index(START)] + table + text[text.index(END) + len(END) :]
    else:
        text += f"\n## Images from the site registry: a rollout vs a bare pull\n\n{table}\n"
    DOC.write_text(text)
    print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--storage-driver", default="overlay", choices=["overlay", "vfs"])
    parser.add_argument("--profile", action="store_true", help="print the commands per device of each step")
    parser.add_argument("--trace", action="store_true", help="print every command the devices run, as it ends")
    parser.add_argument(
        "--scale-down-delay", type=float, default=AgentSettings().scale_down_delay,
        help="seconds a replaced version keeps running on each device (default: the agent's)",
    )  # fmt: skip
    args = parser.parse_args()
    results, second = asyncio.run(
        main(args.devices, args.mib, args.repeat, args.storage_driver, args.profile, args.trace, args.scale_down_delay)
    )
    write_doc(results, second, args.devices, args.mib, args.storage_driver, args.scale_down_delay)
