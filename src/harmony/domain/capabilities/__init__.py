"""Capabilities: one industry concept per Protocol, one Protocol per module.

A topology provides a capability by having its members; a Score asks for the capabilities it needs as its
type parameter. Capabilities are named after concepts (``DnsServer``), never after tools (dnsmasq).
"""

from harmony.domain.capabilities.commands import CommandResult, CommandRunner
from harmony.domain.capabilities.files import FileKind, FileState, ManagedFiles
from harmony.domain.capabilities.packages import SystemPackages
from harmony.domain.capabilities.users import Accounts, GroupAccount, UserAccount, UsersAndGroups

__all__ = [
    "Accounts",
    "CommandResult",
    "CommandRunner",
    "FileKind",
    "FileState",
    "GroupAccount",
    "ManagedFiles",
    "SystemPackages",
    "UserAccount",
    "UsersAndGroups",
]
