"""Harmony: typed infrastructure as Python for decentralized micro datacenters.

The user vocabulary: a ``Score`` (desired state) runs on a ``Topology`` (where) through the capabilities
the topology provides; a ``Maestro`` plans and applies Scores and reports an ``Outcome``. Adapters,
topologies and ready-made Scores live in their own packages (``harmony.topology``, ``harmony.modules``).
"""

from harmony.config.model import ConfigModel, ConfigSection
from harmony.domain.capabilities import (
    AddressServices,
    AlertRouter,
    BootServer,
    CommandRunner,
    ContainerRuntime,
    DhcpServer,
    DnsServer,
    Firewall,
    HostMetricsExporter,
    ImageRegistry,
    KeyValueStore,
    LoadBalancer,
    ManagedFiles,
    MetricsCollector,
    NetworkEdge,
    PostgreSQL,
    Prober,
    RegistryClient,
    SymbolicLinks,
    SystemPackages,
    UsersAndGroups,
    WebEdge,
)
from harmony.domain.change import (
    Action,
    Change,
)
from harmony.domain.companion import (
    SmokeTest,
    Verification,
    verify,
)
from harmony.domain.deployment import (
    Deployment,
)
from harmony.domain.errors import (
    AgentConfigError,
    BecomeRefusedError,
    BootError,
    CapabilityError,
    CommandError,
    ConfigError,
    ContainerError,
    ContainerStartError,
    DeploymentError,
    DhcpError,
    DnsError,
    FilesError,
    FirewallError,
    FirewallRolledBack,
    ForeignContainerError,
    HarmonyError,
    HostAuthError,
    HostUnreachableError,
    ImageNotFoundError,
    InterpretError,
    InvalidValueError,
    KeyValueAuthError,
    KeyValueConflict,
    KeyValueError,
    KeyValueUnavailable,
    LoadBalancerError,
    MissingConfigError,
    MissingProgramError,
    PackagesError,
    PostgreSQLError,
    RegistryError,
    TopologyError,
    UsersError,
)
from harmony.domain.host_group import (
    HostGroup,
)
from harmony.domain.image_refs import (
    PinnedImage,
)
from harmony.domain.interpret import (
    Interpret,
)
from harmony.domain.inventory import (
    Host,
    Inventory,
)
from harmony.domain.outcome import (
    Outcome,
    Status,
)
from harmony.domain.score import (
    AnyScore,
    Score,
)
from harmony.domain.secret import (
    Secret,
)
from harmony.domain.topology import (
    Topology,
)
from harmony.domain.values import (
    Hostname,
    MacAddress,
    Port,
)
from harmony.maestro import (
    Journal,
    Maestro,
    RunReport,
)

__all__ = [
    "Action",
    "AddressServices",
    "AgentConfigError",
    "AlertRouter",
    "AnyScore",
    "BecomeRefusedError",
    "BootError",
    "BootServer",
    "CapabilityError",
    "Change",
    "CommandError",
    "CommandRunner",
    "ConfigError",
    "ConfigModel",
    "ConfigSection",
    "ContainerError",
    "ContainerRuntime",
    "ContainerStartError",
    "Deployment",
    "DeploymentError",
    "DhcpError",
    "DhcpServer",
    "DnsError",
    "DnsServer",
    "FilesError",
    "Firewall",
    "FirewallError",
    "FirewallRolledBack",
    "ForeignContainerError",
    "HarmonyError",
    "Host",
    "HostAuthError",
    "HostGroup",
    "HostMetricsExporter",
    "HostUnreachableError",
    "Hostname",
    "ImageNotFoundError",
    "ImageRegistry",
    "Interpret",
    "InterpretError",
    "InvalidValueError",
    "Inventory",
    "Journal",
    "KeyValueAuthError",
    "KeyValueConflict",
    "KeyValueError",
    "KeyValueStore",
    "KeyValueUnavailable",
    "LoadBalancer",
    "LoadBalancerError",
    "MacAddress",
    "Maestro",
    "ManagedFiles",
    "MetricsCollector",
    "MissingConfigError",
    "MissingProgramError",
    "NetworkEdge",
    "Outcome",
    "PackagesError",
    "PinnedImage",
    "Port",
    "PostgreSQL",
    "PostgreSQLError",
    "Prober",
    "RegistryClient",
    "RegistryError",
    "RunReport",
    "Score",
    "Secret",
    "SmokeTest",
    "Status",
    "SymbolicLinks",
    "SystemPackages",
    "Topology",
    "TopologyError",
    "UsersAndGroups",
    "UsersError",
    "Verification",
    "WebEdge",
    "verify",
]
