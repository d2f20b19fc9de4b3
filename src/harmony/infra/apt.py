"""Debian packages with ``dpkg-query`` (reads) and ``apt-get`` (changes), on any connector.

A version query is a read of the connector (``read_command``): over SSH the queries of one event-loop tick
go to the host with its other reads, in one round trip. Installs pin
the exact version when one is given (``apt-get install name=version``, which also downgrades); they do not
``apt-mark hold`` the package. ``apt-get update`` is not run implicitly: keeping indexes fresh is its own
decision (a ``Command`` Score, or the host's own timer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harmony.domain.errors import PackagesError
from harmony.infra.connector import Connector

_FORMAT = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
_APT_ENV = ["env", "DEBIAN_FRONTEND=noninteractive"]


def parse_dpkg_query(names: Sequence[str], output: str) -> dict[str, str | None]:
    """Installed version per name; ``None`` unless dpkg says ``ii`` (installed) for it."""
    versions: dict[str, str | None] = dict.fromkeys(names)
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] in versions and parts[2].strip().startswith("ii"):
            versions[parts[0]] = parts[1]
    return versions


class AptPackages:
    def __init__(self, connector: Connector, host: str) -> None:
        self._c = connector
        self._host = host

    def _refuse_sandbox(self, what: str) -> None:
        if self._c.prefix is not None:
            raise PackagesError(
                what, f"{self._host} is a sandbox rooted at {self._c.prefix}; packages need a real host"
            )

    async def installed_versions(self, names: Sequence[str]) -> Mapping[str, str | None]:
        self._refuse_sandbox(", ".join(names))
        result = await self._c.read_command(["dpkg-query", "-W", "-f", _FORMAT, *names])
        # dpkg-query exits 1 when some name is unknown, and still prints the known ones.
        if result.exit_status not in (0, 1):
            raise PackagesError(", ".join(names), f"dpkg-query exited {result.exit_status}: {result.stderr.strip()}")
        return parse_dpkg_query(names, result.stdout)

    async def install(self, versions: Mapping[str, str | None]) -> None:
        what = ", ".join(versions)
        self._refuse_sandbox(what)
        specs = [name if v is None else f"{name}={v}" for name, v in versions.items()]
        argv = [*_APT_ENV, "apt-get", "install", "-y", "-q", "--no-install-recommends", "--allow-downgrades", *specs]
        result = await self._c.run_command(argv)
        if result.exit_status != 0:
            raise PackagesError(what, f"apt-get install exited {result.exit_status}: {result.stderr.strip()[-800:]}")

    async def remove(self, names: Sequence[str]) -> None:
        what = ", ".join(names)
        self._refuse_sandbox(what)
        result = await self._c.run_command([*_APT_ENV, "apt-get", "remove", "-y", "-q", *names])
        if result.exit_status != 0:
            raise PackagesError(what, f"apt-get remove exited {result.exit_status}: {result.stderr.strip()[-800:]}")
