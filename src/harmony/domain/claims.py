"""Claims: what a Score takes on its host, so Scores of any class can be checked against each other.

Each Score lists its claims (``Score.claims()``): the paths it makes a file, a directory or a symlink, the
ports it listens on, the names it registers (frontends, DNS owners, containers, uids), the DNS records it
publishes, the accounts it creates or removes, the firewall policy it installs, the CPUs and memory its
workload may use. ``consistency.check`` relates
the claims of every Score that runs on one host — duplicates, contradictions, dangling references, loops —
before anything touches the host, and turns each problem into a ``Finding`` that names the Score's file and
line, the field, the value and what was expected.

A claim says what the Score itself declares, never what the host holds today: that only ``apply`` sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from harmony.domain.values import IPAddress

if TYPE_CHECKING:  # the firewall's models cost a no-op run that has no firewall Score ~20 ms to build
    from harmony.domain.capabilities.firewall import FirewallPolicy

type PathKind = Literal["file", "directory", "symlink", "absent"]
type Namespace = Literal[
    "frontend name", "DNS owner", "container name", "exposed hostname", "uid", "gid", "MAC address", "host name"
]
type Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class PathClaim:
    """The Score makes ``path`` a ``kind`` (``absent``: removes it); a symlink also says where it points."""

    path: PurePosixPath
    kind: PathKind
    field: str = "path"
    link_target: str | None = None


@dataclass(frozen=True)
class ListenClaim:
    """Something the Score starts listens on ``address:port`` (a frontend, a published container port)."""

    address: IPAddress
    port: int
    protocol: Literal["tcp", "udp"]
    what: str
    field: str

    @property
    def endpoint(self) -> str:
        return f"{self.protocol}/{self.address}:{self.port}"

    def clashes(self, other: ListenClaim) -> bool:
        """True when both cannot listen at once: same protocol and port, same or a wildcard address."""
        if self.protocol != other.protocol or self.port != other.port:
            return False
        return self.address == other.address or self.address.is_unspecified or other.address.is_unspecified


@dataclass(frozen=True)
class ForwardClaim:
    """A firewall port forward: connections to this host's ``port`` are sent elsewhere before any listener."""

    port: int
    protocol: Literal["tcp", "udp"]
    what: str
    field: str = "policy.port_forwards"


@dataclass(frozen=True)
class FirewallClaim:
    """The Score installs ``policy`` as the host's whole ruleset; ``must_reach`` are the TCP ports of this
    host that must stay reachable after the switch (the operator's way in)."""

    policy: FirewallPolicy
    must_reach: tuple[int, ...] = ()


@dataclass(frozen=True)
class NameClaim:
    """A name that must be unique among every Score of the host, in ``namespace``."""

    namespace: Namespace
    name: str
    field: str


@dataclass(frozen=True)
class DnsZoneClaim:
    """The Score serves ``zone`` (its names without a record answer NXDOMAIN)."""

    zone: str
    field: str = "zone"


@dataclass(frozen=True)
class DnsRecordClaim:
    """A record the Score publishes: ``name`` of ``type``; ``target`` for CNAME and SRV (the name it points to)."""

    name: str
    type: str
    owner: str
    field: str = "records"
    target: str | None = None


@dataclass(frozen=True)
class AccountClaim:
    """The Score creates (``present``) or removes the user or group ``name``."""

    kind: Literal["user", "group"]
    name: str
    present: bool
    field: str


@dataclass(frozen=True)
class AccountUse:
    """The Score needs the user or group ``name`` to exist (a file owner, a user's group)."""

    kind: Literal["user", "group"]
    name: str
    field: str


@dataclass(frozen=True)
class ResourceClaim:
    """What the Score's workload may use on the host at most: ``cpus`` and ``memory`` in bytes (``None``: no
    limit given, so nothing to add up); ``what`` says what it is for when the Score's name does not."""

    what: str
    field: str
    cpus: float | None = None
    memory: int | None = None


@dataclass(frozen=True)
class Suspicion:
    """Legal but probably not meant: shown as a warning by ``check`` and ``plan``, an error with ``--strict``."""

    rule: str
    field: str
    message: str


type Claim = (
    PathClaim
    | ListenClaim
    | ForwardClaim
    | FirewallClaim
    | NameClaim
    | DnsZoneClaim
    | DnsRecordClaim
    | AccountClaim
    | AccountUse
    | ResourceClaim
    | Suspicion
)
