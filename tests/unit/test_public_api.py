"""The public vocabulary is small and pinned: changing it is a decision, not an accident."""

import harmony

EXPECTED = [
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


def test_exported_names() -> None:
    assert harmony.__all__ == sorted(harmony.__all__)
    assert harmony.__all__ == EXPECTED
    for name in harmony.__all__:
        assert getattr(harmony, name) is not None


def test_importing_harmony_loads_no_wire_library() -> None:
    import subprocess
    import sys

    code = "import sys, harmony; print(sorted(m for m in ('nats', 'psycopg', 'asyncssh', 'hvac') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_capability_name_resolves_although_the_package_imports_them_on_first_use() -> None:
    """``harmony.domain.capabilities`` lists its names twice (imports for type checkers, a map for the lazy
    ``__getattr__``): a name missing from the map would type-check and fail only at run time."""
    import harmony.domain.capabilities as capabilities

    for name in capabilities.__all__:
        assert getattr(capabilities, name) is not None, name
