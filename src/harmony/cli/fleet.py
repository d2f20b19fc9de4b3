"""``harmony fleet …``: a fleet's NATS server, devices, rollouts, status and device commands.

Everything reads the fleet home (``--home``, default ``$HARMONY_FLEET_HOME`` or ``./fleet``), made by
``harmony fleet init``. A Score to deploy comes from a Python file (its ``score`` attribute, or ``--attr``)
or a JSON file holding the Score's wire form.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import runpy
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.capabilities.registry import RegistryLogin
from harmony.domain.errors import InvalidValueError
from harmony.domain.score import AnyScore, Score, score_adapter
from harmony.fleet.agent_release import AGENT_DEPLOYMENT, VERSION_PATTERN
from harmony.fleet.agent_rollout import publish_release, roll_out_release
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.exporter import export_rollouts
from harmony.fleet.metrics import RolloutMetrics
from harmony.fleet.rollout import Rollout, Strategy
from harmony.fleet.status import DeploymentStatus
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.infra.nats import FleetNatsServer, NatsOptions, fleet_options
from harmony.infra.podman import Podman
from harmony.infra.programs import BUSYBOX
from harmony.modules.application.rootfs import busybox_rootfs_tar
from harmony.topology.container_host import ContainerHost

fleet = typer.Typer(help="Fleets of devices: desired state in NATS, device agents running podman workloads.")
console = Console()

Home = Annotated[Path, typer.Option("--home", envvar="HARMONY_FLEET_HOME", help="The fleet home directory.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DEFAULT_HOME = Path("fleet")


def _run[R](work: Awaitable[R]) -> R:
    async def wrapped() -> R:
        return await work

    return asyncio.run(wrapped())


def options(identity: Identity) -> NatsOptions:
    return fleet_options(
        servers=identity.servers, user=identity.user, password=identity.password,
        inbox_prefix=identity.inbox_prefix, name=identity.user,
    )  # fmt: skip


async def _control(home: Path) -> FleetControl:
    return await FleetControl.connect(options(FleetHome(home).control()))


def _labels(pairs: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidValueError("--label/--selector", pair, "key=value")
        found[key] = value
    return found


@fleet.command()
@guarded
def init(home: Home = DEFAULT_HOME, port: Annotated[int, typer.Option(help="NATS client port.")] = 4222) -> None:
    """Create the fleet home: the control identity and the NATS authorization."""
    FleetHome(home).init(servers=[f"nats://127.0.0.1:{port}"])
    console.print(f"fleet home {home}: control identity and nats-auth.conf written", markup=False, highlight=False)


@fleet.command()
@guarded
def server(home: Home = DEFAULT_HOME) -> None:
    """Run the fleet's nats-server (JetStream, per-device users) in the foreground; reloads when devices register."""
    fh = FleetHome(home)
    port = int(fh.control().servers[0].rsplit(":", 1)[1])

    async def serve() -> None:
        nats = FleetNatsServer(store_dir=home / "nats", port=port, auth_file=fh.auth_file)
        await nats.start()
        console.print(f"nats-server listening on {nats.url} (log {nats.log_file})", markup=False, highlight=False)
        seen = fh.auth_file.stat().st_mtime
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
        try:
            while nats.process is not None and nats.process.returncode is None and not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1)
                if fh.auth_file.stat().st_mtime != seen:  # a device was registered: let the server reread
                    seen = fh.auth_file.stat().st_mtime
                    await nats.reload()
        finally:
            await nats.stop()

    _run(serve())


@fleet.command()
@guarded
def register(
    device: str,
    label: Annotated[list[str], typer.Option("--label", "-l", help="key=value, repeatable.")] = [],  # noqa: B006 - typer reads the default
    home: Home = DEFAULT_HOME,
) -> None:
    """Register a device with labels and write its own credentials (devices/<device>.json)."""
    fh = FleetHome(home)
    labels = _labels(label)

    async def go() -> None:
        control = await _control(home)  # NATS first: no credentials are written for a fleet that is not there
        try:
            fh.add_device(device)
            await control.register(device, labels)
        finally:
            await control.close()

    _run(go())
    console.print(f"registered {device}; its credentials: {fh.device_file(device)}", markup=False, highlight=False)


@fleet.command()
@guarded
def agent(
    credentials: Annotated[Path, typer.Option(help="The device's credentials file.")],
    store: Annotated[Path, typer.Option(help="Podman store directory of this device.")],
    heartbeat: Annotated[float, typer.Option(help="Seconds between heartbeats.")] = 5.0,
    ground_truth: Annotated[float, typer.Option(help="Seconds between drift checks.")] = 30.0,
    image: Annotated[
        list[str], typer.Option(help="REF=TAR: import this rootfs tar as REF if the store lacks it (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default
    dns_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Also run Application Scores: HAProxy and dnsmasq (on this loopback port) under --store.",
        ),
    ] = None,
    registry_login: Annotated[
        list[Path],
        typer.Option(
            help="A site registry login (JSON: endpoint, user, password, ca_certificate; mode 0600): this device "
            "pulls pinned images from that endpoint with it (repeatable; needs --dns-port)."
        ),
    ] = [],  # noqa: B006 - typer reads the default
    metrics_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Serve the agent's /metrics on this loopback port.")
    ] = None,
) -> None:
    """Run a device agent in the foreground (podman with its own store under --store).

    Without --dns-port the device runs Container Scores only and rejects Application Scores.
    """
    identity = Identity.model_validate_json(credentials.read_text())
    if identity.device is None:
        raise InvalidValueError("--credentials", str(credentials), "a device credentials file")
    logins = [read_registry_login(path) for path in registry_login]
    if logins and dns_port is None:
        raise InvalidValueError(
            "--registry-login",
            str(registry_login[0]),
            "used with --dns-port (images are pulled for Application Scores)",
        )
    runtime = Podman.isolated(store)
    settings = AgentSettings(
        heartbeat_interval=heartbeat, ground_truth_interval=ground_truth, metrics_port=metrics_port
    )
    host = None
    if dns_port is not None:
        host = ContainerHost(
            name=identity.device, podman=runtime, haproxy=Haproxy(state_dir=store.absolute() / "haproxy"),
            dnsmasq=Dnsmasq(state_dir=store.absolute() / "dnsmasq", port=dns_port, interfaces=("lo",)),
            registry_logins=logins,
        )  # fmt: skip
    device_agent = DeviceAgent(
        device=identity.device, options=options(identity), runtime=host or runtime, applications=host,
        settings=settings,
    )  # fmt: skip

    preload = {ImageRef(ref): PurePosixPath(Path(tar).resolve()) for ref, tar in _labels(image).items()}

    async def go() -> None:
        await runtime.prepare()
        for ref, tar in preload.items():
            if await runtime.inspect_image(ref) is None:
                await runtime.import_image(tar, ref)
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
        await device_agent.start()
        try:
            await stopping.wait()  # the workloads keep running: stopping the agent never stops them
        finally:
            await device_agent.stop()

    _run(go())


def read_registry_login(path: Path) -> RegistryLogin:
    """A registry login file: refused when others may read it (it holds a password) or a field is wrong."""
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text()
    except OSError as e:
        raise InvalidValueError("--registry-login", str(path), f"a readable file ({e.strerror})") from e
    if mode & 0o077:
        raise InvalidValueError(
            "--registry-login", str(path), f"a file only its owner can read (mode is {mode:o}; chmod 600)"
        )
    try:
        return RegistryLogin.model_validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise InvalidValueError(  # the field is named, its value never shown (it may be the password)
            f"--registry-login {path}", where, f"{first['msg']} (fields: endpoint, user, password, ca_certificate)"
        ) from e


@fleet.command(name="busybox-tar")
@guarded
def busybox_tar(out: Path) -> None:
    """Write a busybox root filesystem tar (an offline image to hand to `agent --image REF=TAR`)."""
    out.write_bytes(busybox_rootfs_tar(BUSYBOX.require().read_bytes(), {}))
    console.print(f"wrote {out}", markup=False, highlight=False)


def _load_score(path: Path, attr: str) -> AnyScore:
    if path.suffix == ".json":
        return score_adapter().validate_json(path.read_bytes())
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the file's own imports are relative to where the operator stands
    found = runpy.run_path(str(path)).get(attr)
    if not isinstance(found, Score):
        raise InvalidValueError(f"{path}:{attr}", type(found).__name__, "a Score instance")
    score: AnyScore = found  # pyright: ignore[reportUnknownVariableType]  # any Score kind is deployable
    return score


@fleet.command()
@guarded
def deploy(
    deployment: str,
    score_file: Annotated[Path, typer.Argument(help="A .py file defining `score`, or a .json Score.")],
    selector: Annotated[list[str], typer.Option("--selector", "-s", help="key=value, repeatable.")] = [],  # noqa: B006 - typer reads the default
    attr: Annotated[str, typer.Option(help="Attribute of the .py file holding the Score.")] = "score",
    canary: Annotated[float, typer.Option(help="Share of devices in the canary wave (0: none).")] = 0.0,
    waves: Annotated[int, typer.Option(help="Waves after the canary.")] = 1,
    threshold: Annotated[float, typer.Option(help="Halt when the failed share exceeds this.")] = 0.0,
    wave_timeout: Annotated[float, typer.Option(help="Seconds a wave may take.")] = 300.0,
    home: Home = DEFAULT_HOME,
    as_json: AsJson = False,
) -> None:
    """Roll a Score out to the devices matching the selector, wave by wave, halting on failures.

    When a `harmony fleet serve` controller is active it drives the rollout; this command records it and
    follows it.
    """
    strategy = Strategy(canary=canary, waves=waves, failure_threshold=threshold, wave_timeout=wave_timeout)
    score = _load_score(score_file, attr)

    async def go() -> None:
        control = await _control(home)
        try:
            rollout = await control.deploy(deployment, score, selector=_labels(selector), strategy=strategy)
            if not as_json:
                sizes = ", ".join(str(len(w)) for w in rollout.waves)
                console.print(
                    f"{deployment} version {rollout.version}: waves of {sizes} device(s)", markup=False, highlight=False
                )
            await _drive(control, deployment, as_json=as_json)
        finally:
            await control.close()

    _run(go())


@fleet.command(name="agent-release")
@guarded
def agent_release(
    binary: Annotated[Path, typer.Argument(help="The agent file (harmony agent build --out FILE).")],
    version: Annotated[str, typer.Option("--version", help="The release's name, e.g. 1.4.0 (letters, digits, ._+-).")],
    selector: Annotated[list[str], typer.Option("--selector", "-s", help="key=value, repeatable.")] = [],  # noqa: B006 - typer reads the default
    canary: Annotated[float, typer.Option(help="Share of devices in the canary wave (0: none).")] = 0.0,
    waves: Annotated[int, typer.Option(help="Waves after the canary.")] = 1,
    threshold: Annotated[float, typer.Option(help="Halt when the failed share exceeds this.")] = 0.0,
    wave_timeout: Annotated[float, typer.Option(help="Seconds a wave may take.")] = 300.0,
    home: Home = DEFAULT_HOME,
    as_json: AsJson = False,
) -> None:
    """Sign an agent file with the fleet's key, publish it, and upgrade the matching devices' agents wave by wave.

    Each device checks the file (sha256, signature) before it runs it and keeps it only once the new agent
    heartbeats; otherwise its supervisor puts the previous agent back, and the rollout halts.
    """
    strategy = Strategy(canary=canary, waves=waves, failure_threshold=threshold, wave_timeout=wave_timeout)
    if not re.match(VERSION_PATTERN, version):
        raise InvalidValueError("--version", version, "letters, digits and ._+- (at most 63), e.g. 1.4.0")

    async def go() -> None:
        control = await _control(home)
        try:
            release = await publish_release(control, home, version=version, binary=binary)
            rollout = await roll_out_release(control, release, selector=_labels(selector), strategy=strategy)
            if not as_json:
                sizes = ", ".join(str(len(w)) for w in rollout.waves)
                console.print(
                    f"agent {release.version} (sha256 {release.sha256[:12]}, {release.size / 1e6:.1f} MB, signed): "
                    f"waves of {sizes} device(s)", markup=False, highlight=False,
                )  # fmt: skip
            await _drive(control, AGENT_DEPLOYMENT, as_json=as_json)
        finally:
            await control.close()

    _run(go())


async def _drive(control: FleetControl, deployment: str, *, as_json: bool) -> None:
    """Drive the rollout here, or, when a `fleet serve` controller is active, follow it while it drives."""
    served = await control.active_controller()
    if served is not None and not as_json:
        console.print(f"controller {served.get('controller')} drives it; following (Ctrl-C leaves it running)")

    async def run(progress: Callable[[DeploymentStatus], None] | None) -> Rollout:
        if served is None:
            return await control.drive(deployment, on_progress=progress)
        return await control.follow(deployment, on_progress=progress)

    if as_json:
        final = await run(None)
    else:
        with Live(console=console, refresh_per_second=4) as live:
            final = await run(lambda s: live.update(status_table(s)))
            live.update(status_table(await control.status(deployment)))
    status = await control.status(deployment)
    if as_json:
        print(status.model_dump_json())
    else:
        console.print(f"\nrollout {final.phase}: {final.reason}", markup=False, highlight=False)
    if final.phase in ("halted", "aborted"):
        raise typer.Exit(1)


@fleet.command(name="metrics")
@guarded
def metrics_(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Serve /metrics on this port.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between reads of the rollouts.")] = 5.0,
    home: Home = DEFAULT_HOME,
) -> None:
    """Serve the control side's metrics (rollout progress, halted rollouts) until SIGTERM or Ctrl-C."""

    async def go() -> None:
        control = await _control(home)
        metrics = RolloutMetrics()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        listening = metrics.endpoint.start(port=port, host=host)
        console.print(f"fleet metrics on http://{host}:{listening}/metrics")
        try:
            await export_rollouts(control, metrics, interval=interval, stop=stop)
        finally:
            metrics.endpoint.stop()
            await control.close()

    _run(go())


def status_table(s: DeploymentStatus) -> Table:
    title = (
        f"{s.deployment} {s.version} — {s.phase} (wave {s.wave}/{s.waves}) — targeted {s.targeted}, "
        f"updated {s.updated}, healthy {s.healthy}, failed {s.failed}, offline {s.offline}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("device", "status", "version", "phase", "agent", "message"):
        table.add_column(column)
    for d in s.devices:
        colour = {"healthy": "green", "failed": "red", "offline": "yellow"}.get(d.verdict, "dim")
        table.add_row(
            Text(d.device),
            Text(d.verdict, style=colour),
            Text(d.version or ""),
            Text(d.phase or ""),
            Text(d.agent or ""),
            Text(d.message[:80]),
        )
    return table


@fleet.command()
@guarded
def status(
    deployment: Annotated[str | None, typer.Argument(help="One deployment (default: all).")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep the table live until Ctrl-C.")] = False,
    home: Home = DEFAULT_HOME,
    as_json: AsJson = False,
) -> None:
    """Status per deployment: targeted, updated, healthy, failed, offline; per device with --json or the table."""

    async def go() -> None:
        control = await _control(home)
        try:
            names = [deployment] if deployment else await control.deployments()
            if watch and not as_json:
                with Live(console=console, refresh_per_second=2) as live:
                    while True:
                        tables = [status_table(await control.status(n)) for n in names]
                        live.update(tables[0] if len(tables) == 1 else _stack(tables))
                        await asyncio.sleep(1)
            results = [await control.status(n) for n in names]
            if as_json:
                print(json.dumps([r.model_dump(mode="json") for r in results]))
            else:
                for r in results:
                    console.print(status_table(r))
        finally:
            await control.close()

    _run(go())


def _stack(tables: list[Table]) -> Table:
    outer = Table.grid()
    for t in tables:
        outer.add_row(t)
    return outer


def _phase_command(name: str, help_text: str) -> None:
    @fleet.command(name=name, help=help_text)
    @guarded
    def command(deployment: str, home: Home = DEFAULT_HOME) -> None:
        async def go() -> None:
            control = await _control(home)
            try:
                rollout = await getattr(control, name)(deployment)
                console.print(f"{deployment}: {rollout.phase}", markup=False, highlight=False)
                if name == "resume":
                    await _drive(control, deployment, as_json=False)
            finally:
                await control.close()

        _run(go())


_phase_command("pause", "Pause a running rollout after its current wave.")
_phase_command("resume", "Resume a paused or halted rollout and drive it on.")
_phase_command("abort", "Abort a rollout; devices already updated stay on the new version (roll forward only).")
_phase_command("undeploy", "Remove a deployment from every device it targets (agents stop and remove its workload).")


@fleet.command()
@guarded
def ping(device: str, home: Home = DEFAULT_HOME) -> None:
    """Ask a device's agent for its deployments; says offline when no agent answers."""
    print(json.dumps(_run(_with_control(home, lambda c: c.ping(device)))))


@fleet.command()
@guarded
def logs(
    device: str,
    deployment: str,
    lines: Annotated[int, typer.Option(help="At most 500.")] = 50,
    home: Home = DEFAULT_HOME,
) -> None:
    """The last lines of a deployment's workload on one device."""
    for line in _run(_with_control(home, lambda c: c.logs(device, deployment, lines=lines))):
        print(line)


@fleet.command()
@guarded
def restart(device: str, deployment: str, home: Home = DEFAULT_HOME) -> None:
    """Restart a deployment's workload on one device."""
    print(json.dumps(_run(_with_control(home, lambda c: c.restart(device, deployment)))))


@fleet.command()
@guarded
def devices(home: Home = DEFAULT_HOME, as_json: AsJson = False) -> None:
    """Registered devices: labels, online or not, last heartbeat, healthy/unhealthy deployments, agent release
    and last agent upgrade."""
    found = _run(_with_control(home, lambda c: c.fleet_overview()))
    if as_json:
        print(json.dumps([d.model_dump(mode="json") for d in found]))
        return
    table = Table()
    for column in ("device", "labels", "online", "last heartbeat", "healthy", "unhealthy", "agent", "last upgrade"):
        table.add_column(column)
    for d in found:
        seen = d.last_seen.strftime("%H:%M:%S") if d.last_seen else "never"
        online = Text("online", style="green") if d.online else Text("offline", style="yellow")
        labels = " ".join(f"{k}={v}" for k, v in sorted(d.labels.items()))
        table.add_row(
            Text(d.device), Text(labels), online, seen, str(d.healthy), str(d.unhealthy), Text(d.agent or ""),
            Text(d.upgrade[:60]),
        )  # fmt: skip
    console.print(table)


async def _with_control[R](home: Path, use: Callable[[FleetControl], Awaitable[R]]) -> R:
    control = await _control(home)
    try:
        return await use(control)
    finally:
        await control.close()


@fleet.command()
@guarded
def enroll(
    host: Annotated[str, typer.Argument(help="The device's address (IP or host name), reached over SSH.")],
    device: Annotated[str, typer.Option(help="The device's name in the fleet.")],
    label: Annotated[list[str], typer.Option("--label", "-l", help="key=value, repeatable.")] = [],  # noqa: B006 - typer reads the default
    user: Annotated[str, typer.Option(help="SSH user (sudo -n when not root).")] = "root",
    port: Annotated[int, typer.Option(min=1, max=65535, help="SSH port.")] = 22,
    key: Annotated[Path | None, typer.Option(help="SSH private key.")] = None,
    known_hosts: Annotated[Path | None, typer.Option(help="known_hosts file to check the host key with.")] = None,
    server: Annotated[
        list[str], typer.Option(help="How the device reaches the fleet's NATS (repeatable; default: the home's).")
    ] = [],  # noqa: B006 - typer reads the default
    binary: Annotated[
        Path | None, typer.Option(help="The agent executable (default: `harmony agent build`'s, built if needed).")
    ] = None,
    home: Home = DEFAULT_HOME,
) -> None:
    """Enroll a device over SSH: its own NATS user, the agent installed and started; returns on its first
    heartbeat. Enrolling again changes nothing."""
    from ipaddress import ip_address

    from harmony.domain.values import Hostname, IPAddress, Port
    from harmony.fleet.enroll import enroll as enroll_device
    from harmony.infra.pyinstaller import build_agent
    from harmony.modules.agent.binary import AgentBinary
    from harmony.topology.linux_host import LinuxHost

    fh = FleetHome(home)
    path = binary or build_agent().path
    address: IPAddress | Hostname
    try:
        address = ip_address(host)
    except ValueError:
        address = Hostname(host)
    target = LinuxHost.ssh(address, name=device, port=Port(port), user=user, key=key, known_hosts=known_hosts)

    async def go() -> bool:
        control = await _control(home)
        try:
            done = await enroll_device(
                fh, control, target, device=device, binary=AgentBinary.of(path), labels=_labels(label),
                servers=server or None,
            )  # fmt: skip
        finally:
            await control.close()
        return done.changed

    changed = _run(go())
    what = "enrolled; its agent heartbeats" if changed else "already enrolled: nothing changed"
    console.print(f"{device} on {host}: {what}", markup=False, highlight=False)


@fleet.command()
@guarded
def revoke(device: str, home: Home = DEFAULT_HOME) -> None:
    """Remove a device's NATS user and record: the fleet's server refuses it once it rereads its authorization."""
    from harmony.fleet.enroll import revoke as revoke_device

    async def go() -> bool:
        control = await _control(home)
        try:
            return await revoke_device(FleetHome(home), control, device)
        finally:
            await control.close()

    if not _run(go()):
        raise InvalidValueError("device", device, "an enrolled device (see `harmony fleet devices`)")
    console.print(f"{device} revoked: its NATS user is removed", markup=False, highlight=False)
