"""What a role needs on its host before it configures anything: its Debian packages.

A role (a container host, a database server …) checks its packages through the host's ``SystemPackages``
capability, installs the missing ones the same way, and stops with ``MissingPackageError`` naming them when
that fails — before any configuration is written.
"""

from __future__ import annotations

from collections.abc import Sequence

from harmony.domain.capabilities.packages import SystemPackages
from harmony.domain.errors import MissingPackageError, PackagesError


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
