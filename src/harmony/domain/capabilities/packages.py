"""``SystemPackages``: the operating system's package manager (Debian's dpkg/apt on ``LinuxHost``).

Contract: ``installed_versions`` reads the state of many packages in one round trip and changes nothing;
a package that is not installed maps to ``None``. ``install`` installs each package at the given version
(``None``: the candidate version), upgrading or downgrading as needed, in one transaction; ``remove``
removes them. Failures raise ``PackagesError`` with the package manager's own message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class SystemPackages(Protocol):
    async def installed_versions(self, names: Sequence[str]) -> Mapping[str, str | None]:
        """The installed version of each package, ``None`` when it is not installed."""
        ...

    async def install(self, versions: Mapping[str, str | None]) -> None:
        """Install each package at its version (``None``: whatever the package manager would pick)."""
        ...

    async def remove(self, names: Sequence[str]) -> None: ...
