"""Every error Harmony raises on purpose, in one tree.

    HarmonyError
    ├── InvalidValueError (also ValueError)      a value that is not what a field expects
    ├── DeploymentError                         a deployment that cannot be loaded or is inconsistent
    ├── TopologyError                           a topology that cannot get ready
    │   ├── HostUnreachableError                a host that cannot be connected to (network, refused)
    │   ├── HostAuthError                       a host that rejects our key, or whose host key is unknown
    │   └── BecomeRefusedError                  sudo refused on a host (no rights, or a password is needed)
    ├── InterpretError                          a Score's plan or apply failed: carries score, step, cause
    └── CapabilityError                         raised by adapters behind a capability
        ├── FilesError                          managed files
        ├── CommandError                        commands on a host
        ├── UsersError                          users and groups on a host
        ├── PackagesError                       system packages on a host
        └── EdgeServiceError                    network-edge capabilities: carries subject
            ├── DnsError                        DnsServer
            ├── DhcpError                       DhcpServer
            ├── BootError                       BootServer
            ├── LoadBalancerError               LoadBalancer
            └── FirewallError                   Firewall
                └── FirewallRolledBack          a change undone because a must-reach probe failed

Adapters derive their own errors from the capability's error (``HaproxyError(LoadBalancerError)``) and
translate library exceptions at the boundary, so callers catch one type per capability.
"""

from __future__ import annotations


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


class InterpretError(HarmonyError):
    """A Score's interpret failed at one step; ``cause`` is the underlying error."""

    def __init__(self, score: str, step: str, cause: BaseException | str) -> None:
        self.score = score
        self.step = step
        self.cause = cause
        super().__init__(f"{score}: {step} failed: {cause}")


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


class HostUnreachableError(TopologyError):
    """A host that cannot be connected to: no route, connection refused, timeout."""


class HostAuthError(TopologyError):
    """A host that rejects our credentials, or whose host key is not the one we know."""


class BecomeRefusedError(TopologyError):
    """``sudo`` refused to run commands as root for the login user (no rights, or a password is needed)."""


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
