"""The Scores that install a fleet device's agent on its host: binary, credentials, service.

Everything lives under one directory of the host (``AgentLayout.root``, default ``/var/lib/harmony/agent``):
the one-file binary, the credentials file (0600), the podman store of the device's workloads. The service
runs ``harmony-agent agent supervise`` (``agent.supervisor``: it restarts the agent when it ends, and applies
agent upgrades with rollback), which runs ``harmony-agent fleet agent``; the service's revision is the
binary's and the credentials' digests, so a new binary or new credentials restart it, and nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from harmony.domain.capabilities.services import ServiceSpec
from harmony.domain.units import FileMode
from harmony.fleet.agent_release import PUBLIC_KEY_FILE
from harmony.fleet.credentials import Identity
from harmony.modules.agent.binary import AgentBinary
from harmony.modules.agent.credentials import AgentCredentials
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


def release_key_file(layout: AgentLayout, public_key: str) -> ManagedFile:
    """The fleet's release public key beside the agent: what the device checks agent releases with."""
    return ManagedFile(path=layout.root / PUBLIC_KEY_FILE, content=public_key, mode=FileMode("0644"))


def install_scores(
    binary: AgentBinary, identity: Identity, *, layout: AgentLayout | None = None, heartbeat_timeout: float = 120.0
) -> tuple[AgentBinary, AgentCredentials, AgentService]:
    """``binary`` (made with ``AgentBinary.of(local_file)``) placed at the layout's path, ``identity``'s
    credentials, and the service; apply them in this order."""
    layout = layout or AgentLayout()
    if identity.device is None:
        raise ValueError(f"identity {identity.user} is not a device's (no device name)")
    placed = binary.model_copy(update={"path": layout.binary})
    credentials = AgentCredentials(
        path=layout.credentials, device=identity.device, user=identity.user, password=identity.password,
        servers=identity.servers, inbox_prefix=identity.inbox_prefix,
    )  # fmt: skip
    argv = (
        str(layout.binary), "agent", "supervise", "--dir", str(layout.root),
        "--trial-deadline", f"{layout.trial_deadline:g}", "--",
        "fleet", "agent", "--credentials", str(layout.credentials), "--store", str(layout.store),
        "--heartbeat", f"{layout.heartbeat_interval:g}",
    )  # fmt: skip
    service = ServiceSpec(
        name=SERVICE, argv=argv, description=f"Harmony agent of device {identity.device}",
        revision=f"{binary.sha256[:16]}-{credentials.digest()[:16]}",
    )  # fmt: skip
    return (
        placed,
        credentials,
        AgentService(agent=identity.device, service=service, heartbeat_timeout=heartbeat_timeout),
    )
