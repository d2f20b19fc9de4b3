"""One agent process, its roles switched on by configuration: failover member, fleet device, container supervisor.

The file (``harmony agent run --config FILE``) has one table per role; a role without its table is off:

    [failover]      the failover agent's configuration (``harmony.agent.config.AgentConfig``)
    [device]        credentials = "pi-1.json", store = "/var/lib/harmony/podman", heartbeat = 5.0, dns_port = 5353,
                    registry_logins = ["site.json"], and [device.images] "localhost/web:1" = "web.tar" (what
                    ``harmony fleet agent`` takes as options: ``fleet.device_run``)
    [containers]    store = "/var/lib/harmony/podman", interval = 1.0   (restart-on-failure for Harmony's containers)

A file without any of these tables is the failover agent's own configuration (what ``harmony agent run``
has always read): the failover role alone. ``HARMONY_AGENT__<TABLE>__<FIELD>`` overrides any field.

Each role runs as one task of the process's ``Supervisor``: the device and the container supervisor are
restarted (with back-off) after a crash; the failover role is fatal (it fences and stops its database when
it ends), so the process ends with it. SIGTERM/SIGINT stop every role. Not guaranteed: roles share nothing
but the process (each keeps its own NATS connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.agent.config import AgentConfig, config_data, load_config, load_model, read_toml, toml_document
from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.agent.main import run_agent
from harmony.agent.tasks import Supervisor
from harmony.domain.errors import AgentConfigError, InvalidValueError
from harmony.fleet.device_run import DeviceSettings, device_run
from harmony.infra.podman import Podman

ROLES = ("failover", "device", "containers")


class _Role(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceRole(_Role):
    credentials: Path = Field(description="the device's credentials file (written by `harmony fleet add`)")
    store: Path = Field(description="the podman store directory of this device")
    heartbeat: float = Field(default=5.0, gt=0, description="seconds between heartbeats")
    ground_truth: float = Field(default=30.0, gt=0, description="seconds between drift checks")
    scale_down_delay: float = Field(
        default=30.0, ge=0, description="seconds an application's replaced version keeps running (0: stopped at once)"
    )
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="serve /metrics on this port")
    images: dict[str, Path] = Field(
        default_factory=dict, description="REF = TAR: import this rootfs tar as REF when the store lacks it"
    )
    dns_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="also run Application Scores: HAProxy and dnsmasq (on this loopback port) under the store",
    )  # fmt: skip
    registry_logins: tuple[Path, ...] = Field(
        default=(), description="site registry login files (mode 0600) to pull pinned images with (needs dns_port)"
    )

    @model_validator(mode="after")
    def _logins_need_applications(self) -> Self:
        if self.registry_logins and self.dns_port is None:
            raise InvalidValueError(
                "device.registry_logins",
                [str(p) for p in self.registry_logins],
                "set together with device.dns_port (images are pulled for Application Scores)",
            )
        return self

    def settings(self) -> DeviceSettings:
        return DeviceSettings(
            credentials=self.credentials, store=self.store, heartbeat=self.heartbeat, ground_truth=self.ground_truth,
            images=self.images, dns_port=self.dns_port, registry_logins=self.registry_logins,
            metrics_port=self.metrics_port, scale_down_delay=self.scale_down_delay,
        )  # fmt: skip


class ContainersRole(_Role):
    store: Path | None = Field(default=None, description="an isolated podman store (none: the machine's podman)")
    interval: float = Field(default=1.0, gt=0, description="seconds between looks at Harmony's containers")


class AgentRoles(_Role):
    failover: AgentConfig | None = None
    device: DeviceRole | None = None
    containers: ContainersRole | None = None

    @model_validator(mode="after")
    def _some_role(self) -> AgentRoles:
        if not self.enabled:
            raise InvalidValueError("(roles)", "none", f"at least one of the tables {', '.join(ROLES)}")
        return self

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if getattr(self, r) is not None)


def load_roles(path: Path, env: Mapping[str, str] | None = None) -> AgentRoles:
    """The roles in ``path``; a file with no role table is a failover agent's configuration (that role alone)."""
    data = read_toml(path)
    if not any(role in data for role in ROLES):
        return AgentRoles(failover=load_config(path, env))  # its errors name its fields as they always did
    return load_model(path, AgentRoles, data, env)


def roles_toml(roles: AgentRoles) -> str:
    """The roles as a file ``load_roles`` reads back (a failover role's secrets in clear: write it 0600)."""
    data = roles.model_dump(mode="json", exclude_none=True)
    if roles.failover is not None:
        data["failover"] = config_data(roles.failover)
    return toml_document(data)


def failover_config(path: Path) -> AgentConfig:
    """The failover role's configuration in ``path``; ``AgentConfigError`` when that role is off there."""
    roles = load_roles(path)
    if roles.failover is None:
        raise AgentConfigError(str(path), "failover", "absent", "a [failover] table (this agent has no failover role)")
    return roles.failover


async def run_roles(roles: AgentRoles) -> None:
    """Run every enabled role until SIGTERM/SIGINT (or until the failover role ends)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    tasks = Supervisor(owner="agent")
    if roles.failover is not None:
        failover = roles.failover

        async def member() -> None:
            try:
                await run_agent(failover)  # handles SIGTERM itself: fences, stops its server, returns
            finally:
                stop.set()

        tasks.start("failover", member, restart=False)
    if roles.device is not None:
        tasks.start("device", device_run(roles.device.settings()).run_forever)
    if roles.containers is not None:
        c = roles.containers
        supervisor = ContainerSupervisor(Podman.isolated(c.store) if c.store else Podman(), interval=c.interval)
        tasks.start("containers", lambda: supervisor.run(stop))
    signals = (signal.SIGTERM, signal.SIGINT)
    if roles.failover is None:  # else the failover agent owns them, and its end stops the rest
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
    try:
        failed = asyncio.ensure_future(tasks.failed.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([failed, stopped], return_when=asyncio.FIRST_COMPLETED)
        failed.cancel()
        stopped.cancel()
    finally:
        if roles.failover is None:
            for sig in signals:
                loop.remove_signal_handler(sig)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks.stop_all(timeout=30.0)
