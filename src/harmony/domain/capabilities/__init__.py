"""Capabilities: one industry concept per Protocol, one Protocol per module.

A topology provides a capability by having its members; a Score asks for the capabilities it needs as its
type parameter. Capabilities are named after concepts (``DnsServer``), never after tools (dnsmasq).
"""

from harmony.domain.capabilities.boot import BootScript, BootServer
from harmony.domain.capabilities.commands import CommandResult, CommandRunner
from harmony.domain.capabilities.containers import (
    ContainerHealthCheck,
    ContainerInfo,
    ContainerName,
    ContainerRuntime,
    ContainerSpec,
    EnvName,
    ImageInfo,
    ImageRef,
    PortMapping,
    ResourceLimits,
    VolumeMount,
)
from harmony.domain.capabilities.dhcp import DhcpLease, DhcpPool, DhcpReservation, DhcpServer, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.dns import (
    AaaaRecord,
    ARecord,
    CnameRecord,
    DnsRecord,
    DnsRecordSet,
    DnsServer,
    PtrRecord,
    SrvRecord,
)
from harmony.domain.capabilities.edge import AddressServices, NetworkEdge, WebEdge
from harmony.domain.capabilities.files import FileKind, FileState, ManagedFiles, SymbolicLinks
from harmony.domain.capabilities.firewall import (
    LOCAL,
    Endpoint,
    Firewall,
    FirewallPolicy,
    FirewallState,
    Masquerade,
    PortForward,
    Rule,
    Zone,
)
from harmony.domain.capabilities.key_value import Entry, KeyValueStore
from harmony.domain.capabilities.load_balancer import (
    Backend,
    BackendHealth,
    BackendStatus,
    Frontend,
    HealthCheck,
    LoadBalancer,
)
from harmony.domain.capabilities.packages import SystemPackages
from harmony.domain.capabilities.postgres import PostgreSQL, PostgreSQLState, ServerEndpoint
from harmony.domain.capabilities.probes import Prober, ProbeResult
from harmony.domain.capabilities.registry import ImageRegistry, RegistryClient, RegistryLogin, RegistrySettings
from harmony.domain.capabilities.users import Accounts, GroupAccount, UserAccount, UsersAndGroups

__all__ = [
    "LOCAL",
    "ARecord",
    "AaaaRecord",
    "Accounts",
    "AddressServices",
    "Backend",
    "BackendHealth",
    "BackendStatus",
    "BootScript",
    "BootServer",
    "CnameRecord",
    "CommandResult",
    "CommandRunner",
    "ContainerHealthCheck",
    "ContainerInfo",
    "ContainerName",
    "ContainerRuntime",
    "ContainerSpec",
    "DhcpLease",
    "DhcpPool",
    "DhcpReservation",
    "DhcpServer",
    "DhcpSubnet",
    "DnsRecord",
    "DnsRecordSet",
    "DnsServer",
    "Endpoint",
    "Entry",
    "EnvName",
    "FileKind",
    "FileState",
    "Firewall",
    "FirewallPolicy",
    "FirewallState",
    "Frontend",
    "GroupAccount",
    "HealthCheck",
    "ImageInfo",
    "ImageRef",
    "ImageRegistry",
    "KeyValueStore",
    "LoadBalancer",
    "ManagedFiles",
    "Masquerade",
    "NetworkBoot",
    "NetworkEdge",
    "PortForward",
    "PortMapping",
    "PostgreSQL",
    "PostgreSQLState",
    "ProbeResult",
    "Prober",
    "PtrRecord",
    "RegistryClient",
    "RegistryLogin",
    "RegistrySettings",
    "ResourceLimits",
    "Rule",
    "ServerEndpoint",
    "SrvRecord",
    "SymbolicLinks",
    "SystemPackages",
    "UserAccount",
    "UsersAndGroups",
    "VolumeMount",
    "WebEdge",
    "Zone",
]
