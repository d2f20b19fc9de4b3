"""Running a fleet device from its settings: ``harmony agent run``'s ``[device]`` role and ``harmony fleet agent``.

Both read the same settings (``DeviceSettings``) and build the same agent here, so a device installed as a
service (``agent run --config``) can do all that one started by hand can: preload rootfs images into its
store, run Application Scores (HAProxy and dnsmasq under its store, ``dns_port``), pull pinned images with
site registry logins. Each caller names the settings its own way (``--registry-login`` or
``device.registry_logins``): errors name the field as the caller spells it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.capabilities.registry import RegistryLogin
from harmony.domain.errors import InvalidValueError
from harmony.fleet.credentials import Identity
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.infra.nats import NatsOptions, fleet_options
from harmony.infra.podman import Podman
from harmony.topology.container_host import ContainerHost


@dataclass(frozen=True)
class DeviceSettings:
    credentials: Path
    store: Path
    heartbeat: float = 5.0
    ground_truth: float = 30.0
    images: Mapping[str, Path] | None = None
    """REF -> rootfs tar imported as REF when the store lacks it."""
    dns_port: int | None = None
    registry_logins: Sequence[Path] = ()
    metrics_port: int | None = None
    scale_down_delay: float = 30.0


@dataclass(frozen=True)
class FieldNames:
    """How the caller spells each setting in its errors."""

    credentials: str = "device.credentials"
    registry_logins: str = "device.registry_logins"
    images: str = "device.images"
    dns_port: str = "device.dns_port"


def device_options(identity: Identity) -> NatsOptions:
    """How a fleet identity reaches the fleet's NATS (the fleet's defaults)."""
    return fleet_options(
        servers=identity.servers, user=identity.user, password=identity.password,
        inbox_prefix=identity.inbox_prefix, name=identity.user,
    )  # fmt: skip


def read_identity(path: Path, field: str) -> Identity:
    """A device's credentials file; an error naming ``field`` when it is unreadable or not a device's."""
    try:
        identity = Identity.model_validate_json(path.read_text())
    except OSError as e:
        raise InvalidValueError(field, str(path), f"a readable credentials file ({e.strerror})") from e
    except ValidationError as e:
        raise InvalidValueError(
            field, str(path), "a device credentials file as `harmony fleet register`/`enroll` writes it"
        ) from e
    if identity.device is None:
        raise InvalidValueError(field, str(path), "a device credentials file (this one is not a device's)")
    return identity


def read_registry_login(path: Path, field: str) -> RegistryLogin:
    """A registry login file: refused when others may read it (it holds a password) or a field is wrong."""
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text()
    except OSError as e:
        raise InvalidValueError(field, str(path), f"a readable file ({e.strerror})") from e
    if mode & 0o077:
        raise InvalidValueError(field, str(path), f"a file only its owner can read (mode is {mode:o}; chmod 600)")
    try:
        return RegistryLogin.model_validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise InvalidValueError(  # the field is named, its value never shown (it may be the password)
            f"{field} {path}", where, f"{first['msg']} (fields: endpoint, user, password, ca_certificate)"
        ) from e


@dataclass(frozen=True)
class DeviceRun:
    """A device agent ready to start, and the store it prepares first."""

    agent: DeviceAgent
    runtime: Podman
    preload: Mapping[ImageRef, PurePosixPath]

    async def prepare(self) -> None:
        """The store made ready, and every preloaded image it lacks imported."""
        await self.runtime.prepare()
        for ref, tar in self.preload.items():
            if await self.runtime.inspect_image(ref) is None:
                await self.runtime.import_image(tar, ref)

    async def run_forever(self) -> None:
        await self.prepare()
        await self.agent.run_forever()

    async def run_until_signal(self) -> None:
        """Until SIGTERM/SIGINT; the workloads keep running (stopping the agent never stops them)."""
        await self.prepare()
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
        await self.agent.start()
        try:
            await stopping.wait()
        finally:
            await self.agent.stop()


def device_run(settings: DeviceSettings, names: FieldNames | None = None) -> DeviceRun:
    """The device agent ``settings`` describe; every file is read (and checked) before anything starts."""
    names = names or FieldNames()
    identity = read_identity(settings.credentials, names.credentials)
    assert identity.device is not None  # read_identity refuses others
    if settings.registry_logins and settings.dns_port is None:
        raise InvalidValueError(
            names.registry_logins,
            str(settings.registry_logins[0]),
            f"used with {names.dns_port} (images are pulled for Application Scores)",
        )
    logins = [read_registry_login(path, names.registry_logins) for path in settings.registry_logins]
    preload = {ImageRef(ref): PurePosixPath(tar.resolve()) for ref, tar in (settings.images or {}).items()}
    for ref, tar in preload.items():
        if not Path(tar).is_file():
            raise InvalidValueError(names.images, f"{ref}={tar}", "REF=TAR where TAR is a rootfs tar on this machine")
    runtime = Podman.isolated(settings.store)
    agent_settings = AgentSettings(
        heartbeat_interval=settings.heartbeat, ground_truth_interval=settings.ground_truth,
        metrics_port=settings.metrics_port, scale_down_delay=settings.scale_down_delay,
    )  # fmt: skip
    host = None
    if settings.dns_port is not None:
        store = settings.store.absolute()
        host = ContainerHost(
            name=identity.device, podman=runtime, haproxy=Haproxy(state_dir=store / "haproxy"),
            dnsmasq=Dnsmasq(state_dir=store / "dnsmasq", port=settings.dns_port, interfaces=("lo",)),
            registry_logins=logins,
        )  # fmt: skip
    agent = DeviceAgent(
        device=identity.device, options=device_options(identity), runtime=host or runtime, applications=host,
        settings=agent_settings,
    )  # fmt: skip
    return DeviceRun(agent=agent, runtime=runtime, preload=preload)
