"""The Scores that install a fleet device's agent on its host: binary, credentials, service.

Everything lives under one directory of the host (``AgentLayout.root``, default ``/var/lib/harmony/agent``):
the one-file binary, the credentials file (0600), the agent's configuration (``agent.toml``, 0600: the
``[device]`` role of ``fleet.roles``), the fleet's release public key, the podman store of the device's
workloads. The service runs ``harmony-agent agent supervise`` (``agent.supervisor``: it restarts the agent when
it ends, and applies agent upgrades with rollback), which runs ``harmony-agent agent run --config agent.toml``;
the service's revision is the binary's, the credentials' and the configuration's digests, so a new binary, new
credentials or a new configuration restart it, and nothing else does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harmony.agent.supervisor import SupervisorPaths
from harmony.domain.capabilities.services import ServiceSpec
from harmony.domain.units import FileMode
from harmony.fleet.agent_release import PUBLIC_KEY_FILE
from harmony.fleet.credentials import Identity
from harmony.fleet.roles import AgentRoles, DeviceRole, roles_toml
from harmony.modules.agent.binary import AgentBinary
from harmony.modules.agent.credentials import AgentCredentials
from harmony.modules.agent.removed import AgentRemoved
from harmony.modules.agent.service import AgentService
from harmony.modules.files.managed_file import ManagedFile

SERVICE = "harmony-agent"
DEFAULT_ROOT = PurePosixPath("/var/lib/harmony/agent")


@dataclass(frozen=True)
class AgentLayout:
    root: PurePosixPath = DEFAULT_ROOT
    heartbeat_interval: float = 2.0
    trial_deadline: float = 60.0
    """Seconds a new agent release has to heartbeat before its supervisor puts the previous one back."""

    @property
    def binary(self) -> PurePosixPath:
        return self.root / "harmony-agent"

    @property
    def credentials(self) -> PurePosixPath:
        return self.root / "credentials.json"

    @property
    def store(self) -> PurePosixPath:
        return self.root / "store"

    @property
    def config(self) -> PurePosixPath:
        return self.root / "agent.toml"

    def installed_files(self) -> tuple[PurePosixPath, ...]:
        """What installing (and upgrading) the agent puts here, removed with it; not the workloads' store."""
        upgrades = SupervisorPaths(Path(self.root))
        kept = (upgrades.next, upgrades.previous, upgrades.state, upgrades.release, upgrades.health)
        return (
            self.binary, *(PurePosixPath(p) for p in kept), self.credentials, self.config, self.root / PUBLIC_KEY_FILE
        )  # fmt: skip

    def roles(self) -> AgentRoles:
        """The installed agent's roles: the fleet device, its files under ``root``."""
        device = DeviceRole(
            credentials=Path(self.credentials), store=Path(self.store), heartbeat=self.heartbeat_interval
        )
        return AgentRoles(device=device)


def agent_argv(layout: AgentLayout) -> tuple[str, ...]:
    """The installed service's command line: the agent's supervisor, which runs the one binary with its roles
    in its configuration file."""
    return (
        str(layout.binary), "agent", "supervise", "--dir", str(layout.root),
        "--trial-deadline", f"{layout.trial_deadline:g}", "--", "agent", "run", "--config", str(layout.config),
    )  # fmt: skip


def config_file(layout: AgentLayout) -> ManagedFile:
    return ManagedFile(path=layout.config, content=roles_toml(layout.roles()), mode=FileMode("0600"))


def release_key_file(layout: AgentLayout, public_key: str) -> ManagedFile:
    """The fleet's release public key beside the agent: what the device checks agent releases with."""
    return ManagedFile(path=layout.root / PUBLIC_KEY_FILE, content=public_key, mode=FileMode("0644"))


def install_scores(
    binary: AgentBinary, identity: Identity, *, layout: AgentLayout | None = None, heartbeat_timeout: float = 120.0
) -> tuple[AgentBinary, AgentCredentials, ManagedFile, AgentService]:
    """``binary`` (made with ``AgentBinary.of(local_file)``) placed at the layout's path, ``identity``'s
    credentials, the agent's configuration, and the service; apply them in this order."""
    layout = layout or AgentLayout()
    if identity.device is None:
        raise ValueError(f"identity {identity.user} is not a device's (no device name)")
    placed = binary.model_copy(update={"path": layout.binary})
    credentials = AgentCredentials(
        path=layout.credentials, device=identity.device, user=identity.user, password=identity.password,
        servers=identity.servers, inbox_prefix=identity.inbox_prefix,
    )  # fmt: skip
    config = config_file(layout)
    config_digest = hashlib.sha256(str(config.content).encode()).hexdigest()
    service = ServiceSpec(
        name=SERVICE, argv=agent_argv(layout), description=f"Harmony agent of device {identity.device}",
        revision=f"{binary.sha256[:16]}-{credentials.digest()[:16]}-{config_digest[:16]}",
    )  # fmt: skip
    return (
        placed,
        credentials,
        config,
        AgentService(agent=identity.device, service=service, heartbeat_timeout=heartbeat_timeout),
    )


def removal_score(device: str, layout: AgentLayout | None = None) -> AgentRemoved:
    """The agent gone from its host: the service stopped and forgotten, binary, credentials and configuration
    removed (the store of the device's workloads is left: removing the agent never stops them)."""
    layout = layout or AgentLayout()
    service = ServiceSpec(name=SERVICE, argv=agent_argv(layout), description=f"Harmony agent of device {device}")
    return AgentRemoved(agent=device, service=service, files=layout.installed_files())
