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
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.domain.errors import InvalidValueError, KeyValueAuthError
from harmony.domain.score import AnyScore, Score, score_adapter
from harmony.fleet.agent_release import AGENT_DEPLOYMENT, VERSION_PATTERN
from harmony.fleet.agent_rollout import publish_release, roll_out_release
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.device_run import DeviceSettings, FieldNames, device_run
from harmony.fleet.exporter import export_rollouts
from harmony.fleet.metrics import RolloutMetrics
from harmony.fleet.records import check_token
from harmony.fleet.rollout import Rollout, Strategy
from harmony.fleet.sites import SiteStrategy
from harmony.fleet.status import DeploymentStatus
from harmony.infra.nats import FleetNatsServer, NatsConnection, NatsOptions, fleet_options
from harmony.infra.programs import BUSYBOX
from harmony.modules.application.rootfs import busybox_rootfs_tar

fleet = typer.Typer(help="Fleets of devices: desired state in NATS, device agents running podman workloads.")
console = Console()

Home = Annotated[Path, typer.Option("--home", envvar="HARMONY_FLEET_HOME", help="The fleet home directory.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
HubUrls = Annotated[
    list[str], typer.Option("--hub", help="A fleet of sites: a hub server URL, repeatable (nats://HOST:PORT).")
]
HubCredentials = Annotated[
    Path | None,
    typer.Option(
        "--hub-credentials",
        help="With --hub, when the hub requires authentication: the credentials file of a user of the hub (its "
        "NKey seed, mode 0600: a tenant's operator.nk in the tenants home).",
    ),
]
HUB_OFFLINE_AFTER = 15.0  # seconds without a heartbeat before a device at a site counts as offline
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
def init(
    home: Home = DEFAULT_HOME,
    port: Annotated[int, typer.Option(min=1, max=65535, help="NATS client port.")] = 4222,
    host: Annotated[
        str, typer.Option(help="The address the fleet's NATS listens on (devices on other hosts reach it there).")
    ] = "127.0.0.1",
) -> None:
    """Create the fleet home: the control identity and the NATS authorization."""
    from ipaddress import ip_address

    try:
        address = ip_address(host)
    except ValueError:
        raise InvalidValueError("--host", host, "an IP address of this machine, e.g. 10.0.0.1") from None
    where = f"[{address}]" if address.version == 6 else str(address)
    FleetHome(home).init(servers=[f"nats://{where}:{port}"])
    console.print(f"fleet home {home}: control identity and nats-auth.conf written", markup=False, highlight=False)


@fleet.command()
@guarded
def server(home: Home = DEFAULT_HOME) -> None:
    """Run the fleet's nats-server (JetStream, per-device users) in the foreground; reloads when devices register."""
    fh = FleetHome(home)
    host, _, port = fh.control().servers[0].removeprefix("nats://").rpartition(":")
    # the authorization as this Harmony writes it: one written by an older release may lack a permission its
    # agents now use (their desired state's republish subject), and is otherwise rewritten only at an enroll
    fh.write_auth()

    def stamp() -> tuple[int, int, int]:  # a rewrite is a new file (atomic rename): a new inode, time or size
        st = fh.auth_file.stat()
        return st.st_ino, st.st_mtime_ns, st.st_size

    async def serve() -> None:
        nats = FleetNatsServer(store_dir=home / "nats", host=host.strip("[]"), port=int(port), auth_file=fh.auth_file)
        seen = stamp()  # before the server reads the file: a device registered while it starts is reloaded too
        await nats.start()
        console.print(f"nats-server listening on {nats.url} (log {nats.log_file})", markup=False, highlight=False)
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
        try:
            while nats.process is not None and nats.process.returncode is None and not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1)
                if (now := stamp()) != seen:  # the authorization changed: let the server reread it
                    seen = now  # one look: a change made between two looks would be missed
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

    async def go() -> bool:
        control = await _control(home)  # NATS first: no credentials are written for a fleet that is not there
        try:
            identity = fh.add_device(device)
            await control.register(device, labels)
        finally:
            await control.close()
        return await _taken(identity, within=AUTH_RELOAD_WAIT)

    taken = _run(go())
    console.print(f"registered {device}; its credentials: {fh.device_file(device)}", markup=False, highlight=False)
    if not taken:
        console.print(
            f"warning: the fleet's server did not take {device}'s credentials within {AUTH_RELOAD_WAIT:g}s, and "
            "refuses its agent until it does: is `harmony fleet server` running on this home?",
            markup=False, highlight=False,
        )  # fmt: skip


AUTH_RELOAD_WAIT = 10.0  # `harmony fleet server` rereads the authorization within a second of a change


async def _taken(identity: Identity, *, within: float) -> bool:
    """Whether the server lets ``identity`` in within ``within`` seconds: ``register`` returns once a device's
    agent can connect, not before the server has reread its authorization (an agent refused at its first
    connect stops, saying so)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            connection = await NatsConnection.connect(options(identity))
        except KeyValueAuthError:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.1)
            continue
        await connection.close()
        return True


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
    scale_down_delay: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds an application's replaced version keeps running after the switch (a rollback within "
            "them starts nothing); 0: stopped at once.",
        ),
    ] = 30.0,
) -> None:
    """Run a device agent in the foreground (podman with its own store under --store).

    Without --dns-port the device runs Container Scores only and rejects Application Scores.
    """
    settings = DeviceSettings(
        credentials=credentials, store=store, heartbeat=heartbeat, ground_truth=ground_truth,
        images={ref: Path(tar) for ref, tar in _labels(image).items()}, dns_port=dns_port,
        registry_logins=registry_login, metrics_port=metrics_port, scale_down_delay=scale_down_delay,
    )  # fmt: skip
    names = FieldNames(
        credentials="--credentials", registry_logins="--registry-login", images="--image", dns_port="--dns-port"
    )
    _run(device_run(settings, names).run_until_signal())


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
    hub: HubUrls = [],  # noqa: B006 - typer reads the default
    hub_credentials: HubCredentials = None,
    canary_site: Annotated[
        str | None, typer.Option(help="With --hub: this site alone is the first wave (the canary site).")
    ] = None,
    sites_per_wave: Annotated[int, typer.Option(min=1, help="With --hub: sites per wave after the canary.")] = 1,
) -> None:
    """Roll a Score out to the devices matching the selector, wave by wave, halting on failures.

    When a `harmony fleet serve` controller is active it drives the rollout; this command records it and
    follows it. With --hub (a fleet of sites) the waves are whole sites: --canary-site first, then
    --sites-per-wave sites at a time; a failure at the canary site halts the rollout before any other site.
    """
    score = _load_score(score_file, attr)
    if hub:
        from harmony.cli.fleet_hub import deploy_by_site  # fleet_hub's tables sit beside this module's

        if canary or waves != 1:
            raise InvalidValueError(
                "--canary/--waves", f"{canary}/{waves}", "waves by site at a hub: --canary-site and --sites-per-wave"
            )
        by_site = SiteStrategy(
            canary=canary_site, sites_per_wave=sites_per_wave, failure_threshold=threshold, wave_timeout=wave_timeout
        )  # fmt: skip
        _run(
            deploy_by_site(
                hub, deployment, score, selector=_labels(selector), strategy=by_site, as_json=as_json,
                offline_after=HUB_OFFLINE_AFTER, credentials=hub_credentials,
            )
        )  # fmt: skip
        return
    if canary_site is not None or sites_per_wave != 1:
        raise InvalidValueError(
            "--canary-site/--sites-per-wave", canary_site, "--hub as well (waves by site are for a fleet of sites)"
        )
    strategy = Strategy(canary=canary, waves=waves, failure_threshold=threshold, wave_timeout=wave_timeout)

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
    hub: HubUrls = [],  # noqa: B006 - typer reads the default
    hub_credentials: HubCredentials = None,
) -> None:
    """Status per deployment: targeted, updated, healthy, failed, offline; per device with --json or the table.

    With --hub (a fleet of sites): each site's link (reachable, or unreachable since when) and each rollout's
    counts per site; --json prints {"sites": [...], "deployments": [...]}.
    """
    if hub:
        from harmony.cli.fleet_hub import show_status  # fleet_hub's tables sit beside this module's

        _run(
            show_status(
                hub, deployment, as_json=as_json, watch=watch, offline_after=HUB_OFFLINE_AFTER,
                credentials=hub_credentials,
            )
        )  # fmt: skip
        return

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
        _run(_set_phase(name, deployment, home))


async def _set_phase(name: str, deployment: str, home: Path) -> None:
    control = await _control(home)
    try:
        rollout = await getattr(control, name)(deployment)
        console.print(f"{deployment}: {rollout.phase}", markup=False, highlight=False)
        if name == "resume":
            await _drive(control, deployment, as_json=False)
    finally:
        await control.close()


def _hub_phase_command(name: str, help_text: str) -> None:
    @fleet.command(name=name, help=help_text)
    @guarded
    def command(
        deployment: str,
        home: Home = DEFAULT_HOME,
        hub: HubUrls = [],  # noqa: B006 - typer reads the default
        hub_credentials: HubCredentials = None,
    ) -> None:
        if hub:
            from harmony.cli.fleet_hub import set_phase  # fleet_hub's tables sit beside this module's

            _run(set_phase(hub, deployment, name, offline_after=HUB_OFFLINE_AFTER, credentials=hub_credentials))
            return
        _run(_set_phase(name, deployment, home))


_hub_phase_command("pause", "Pause a running rollout after its current wave (with --hub: a rollout by site).")
_hub_phase_command("resume", "Resume a paused or halted rollout and drive it on (with --hub: a rollout by site).")
_hub_phase_command(
    "abort",
    "Abort a rollout; devices already updated stay on the new version (roll forward only; with --hub: by site).",
)
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
    directory: Annotated[
        str, typer.Option("--dir", help="The agent's directory on the host (binary, credentials, config, store).")
    ] = "/var/lib/harmony/agent",
    heartbeat: Annotated[float, typer.Option(min=0.1, help="Seconds between the agent's heartbeats.")] = 2.0,
    home: Home = DEFAULT_HOME,
    as_json: AsJson = False,
) -> None:
    """Enroll a device over SSH: its own NATS user, the agent installed and started; returns on its first
    heartbeat. Enrolling again changes nothing; a host that cannot be reached changes nothing either."""
    from harmony.fleet.enroll import Enrolled
    from harmony.fleet.enroll import enroll as enroll_device
    from harmony.fleet.enrollments import HostAccess, parse_address
    from harmony.fleet.install import AgentLayout
    from harmony.infra.pyinstaller import build_agent
    from harmony.modules.agent.binary import AgentBinary

    check_token("--device", device)
    labels = _labels(label)
    parse_address(host)
    root = PurePosixPath(directory)
    if not root.is_absolute() or ".." in root.parts:
        raise InvalidValueError("--dir", directory, "an absolute path on the host without '..'")
    if binary is not None and not binary.is_file():
        raise InvalidValueError("--binary", str(binary), "the agent executable (`harmony agent build --out FILE`)")
    access = HostAccess(address=host, port=port, user=user, key=key, known_hosts=known_hosts)
    fh = FleetHome(home)
    fh.control()  # a missing fleet home is named before the agent is built
    path = binary or build_agent().path

    async def go() -> Enrolled:
        control = await _control(home)
        try:
            return await enroll_device(
                fh, control, access, device=device, binary=AgentBinary.of(path), labels=labels,
                servers=server or None, layout=AgentLayout(root=root, heartbeat_interval=heartbeat),
            )  # fmt: skip
        finally:
            await control.close()

    done = _run(go())
    if as_json:
        steps = [
            {"score": r.score, "status": r.outcome.status.value, "message": r.outcome.message}
            for r in done.report.results
            if r.outcome is not None
        ]
        print(json.dumps({"device": device, "host": access.where(), "changed": done.changed, "steps": steps}))
        return
    what = "enrolled; its agent heartbeats" if done.changed else "already enrolled: nothing changed"
    console.print(f"{device} on {access.where()}: {what}", markup=False, highlight=False, soft_wrap=True)


@fleet.command()
@guarded
def revoke(device: str, home: Home = DEFAULT_HOME, as_json: AsJson = False) -> None:
    """Remove a device's NATS user and record (the fleet's server refuses it once it rereads its authorization),
    then stop and remove its agent on its host when that host can be reached."""
    from harmony.fleet.enroll import Revoked
    from harmony.fleet.enroll import revoke as revoke_device

    check_token("DEVICE", device)

    async def go() -> Revoked:
        control = await _control(home)
        try:
            return await revoke_device(FleetHome(home), control, device)
        finally:
            await control.close()

    done = _run(go())
    if as_json:
        print(json.dumps({"device": done.device, "host": done.where, "cleaned": done.cleaned, "detail": done.detail}))
        return
    console.print(done.sentence(), markup=False, highlight=False, soft_wrap=True)
