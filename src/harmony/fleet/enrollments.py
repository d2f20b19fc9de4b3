"""Where each enrolled device's agent is installed: kept in the fleet home, so ``revoke`` can clean the host.

One file per device, ``enrolled/<device>.json``: how the host is reached over SSH (address, port, user, key,
known_hosts; no secret: the key is a path) and the agent's layout there (``AgentLayout``). ``fleet enroll``
writes it once the agent heartbeats; ``fleet revoke`` reads it to stop and remove the agent, and deletes it.
"""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.errors import InvalidValueError
from harmony.domain.values import Hostname, IPAddress, Port
from harmony.fleet.credentials import FleetHome
from harmony.fleet.install import DEFAULT_ROOT, AgentLayout
from harmony.fleet.records import check_token
from harmony.infra.state_files import write_atomic
from harmony.topology.linux_host import LinuxHost


def parse_address(text: str, *, field: str = "HOST") -> IPAddress | Hostname:
    """An IP address or a host name; an error naming ``field`` otherwise."""
    try:
        return ip_address(text)
    except ValueError:
        pass
    try:
        return Hostname(text)
    except InvalidValueError:
        raise InvalidValueError(
            field, text, "an IP address (10.0.0.5, fd00::5) or a host name (letters, digits, '-' and dots)"
        ) from None


class HostAccess(BaseModel):
    """How a device's host is reached over SSH, and where its agent lives there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str = "root"
    key: Path | None = None
    known_hosts: Path | None = None

    def host(self, name: str) -> LinuxHost:
        return LinuxHost.ssh(
            parse_address(self.address), name=name, port=Port(self.port), user=self.user, key=self.key,
            known_hosts=self.known_hosts,
        )  # fmt: skip

    def where(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"


class Enrollment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str
    access: HostAccess
    root: PurePosixPath = DEFAULT_ROOT
    heartbeat_interval: float = 2.0
    trial_deadline: float = 60.0

    @classmethod
    def of(cls, device: str, access: HostAccess, layout: AgentLayout) -> Enrollment:
        return cls(
            device=device, access=access, root=layout.root, heartbeat_interval=layout.heartbeat_interval,
            trial_deadline=layout.trial_deadline,
        )  # fmt: skip

    def layout(self) -> AgentLayout:
        return AgentLayout(
            root=self.root, heartbeat_interval=self.heartbeat_interval, trial_deadline=self.trial_deadline
        )


def enrollment_file(home: FleetHome, device: str) -> Path:
    return home.path / "enrolled" / f"{check_token('device', device)}.json"


def save_enrollment(home: FleetHome, enrollment: Enrollment) -> None:
    write_atomic(
        enrollment_file(home, enrollment.device), enrollment.model_dump_json(indent=2), mode=0o600, directory_mode=0o700
    )


def load_enrollment(home: FleetHome, device: str) -> Enrollment | None:
    """The device's enrollment; None when it was registered by hand (``fleet register``) or never enrolled."""
    path = enrollment_file(home, device)
    return Enrollment.model_validate_json(path.read_text()) if path.exists() else None


def forget_enrollment(home: FleetHome, device: str) -> None:
    enrollment_file(home, device).unlink(missing_ok=True)
