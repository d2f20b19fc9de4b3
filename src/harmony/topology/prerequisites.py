"""What a role needs on its host before it configures anything: its Debian packages and its state directory.

A role (a container host, a database server …) checks its packages through the host's ``SystemPackages``
capability, installs the missing ones the same way, and stops with ``MissingPackageError`` naming them when
that fails — before any configuration is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Protocol

from harmony.domain.capabilities.commands import CommandRunner
from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.capabilities.packages import SystemPackages
from harmony.domain.errors import MissingPackageError, PackagesError, TopologyError


async def require_packages(host: SystemPackages, packages: Sequence[str], *, role: str, where: str) -> list[str]:
    """Install the ``packages`` missing on ``host``; the ones it installed (none when all were there)."""
    versions = await host.installed_versions(packages)
    missing = [p for p in packages if versions.get(p) is None]
    if not missing:
        return []
    try:
        await host.install(dict.fromkeys(missing))
    except PackagesError as e:
        raise MissingPackageError(where, missing, role, str(e)) from e
    return missing


class HostForRole(SystemPackages, ManagedFiles, CommandRunner, Protocol):
    """What a role's prerequisites use of its host (a ``LinuxHost``)."""


async def prepare_role(
    host: HostForRole, packages: Sequence[str], state_dir: PurePosixPath, *, role: str, where: str
) -> bool:
    """The role's ``packages`` and its ``state_dir`` on ``host``: both read at once (one round trip to a remote
    host), the packages installed first when missing, then the directory made; whether anything was changed."""
    installed, found = await asyncio.gather(
        require_packages(host, packages, role=role, where=where),
        host.stat_files([state_dir], with_content=False),
        return_exceptions=True,
    )
    if isinstance(installed, BaseException):  # first: nothing else is made when a package is missing
        raise installed
    if isinstance(found, BaseException):
        raise found
    if found[state_dir].kind == "directory":
        return bool(installed)
    await make_state_dir(host, state_dir, where=where)
    return True


async def make_state_dir(host: CommandRunner, state_dir: PurePosixPath, *, where: str) -> None:
    """Create the role's state directory on ``host`` (and its parents), or fail naming it."""
    made = await host.run_command(["mkdir", "-p", "--", str(state_dir)], timeout=30)
    if not made.ok:
        raise TopologyError(where, f"cannot create state directory {state_dir}: {made.stderr.strip() or made.stdout}")
