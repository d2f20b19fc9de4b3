"""``LinuxHost``: one Linux machine, local or over SSH, providing the host capabilities.

The capabilities (``ManagedFiles``, ``CommandRunner``, ``UsersAndGroups``, ``SystemPackages``) are the
same whichever way the host is reached; only the connector differs: ``LinuxHost.local()`` works in-process
on this machine, ``LinuxHost.ssh(...)`` / ``LinuxHost.from_inventory(host)`` over one SSH connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, JsonValue

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.files import FileState
from harmony.domain.capabilities.users import Accounts
from harmony.domain.inventory import Host, HostResources, read_variables
from harmony.domain.topology import RunLock
from harmony.domain.values import Hostname, IPAddress, Port
from harmony.infra.apt import AptPackages
from harmony.infra.connector import Connector
from harmony.infra.local_connector import LocalConnector
from harmony.infra.shadow import ShadowAccounts


class LinuxHost:
    """A Linux host. ``LinuxHost.local()`` is the machine Harmony runs on."""

    def __init__(
        self,
        *,
        name: str,
        connector: Connector,
        variables: Mapping[str, JsonValue] | None = None,
        resources: HostResources | None = None,
    ) -> None:
        self._name = name
        self.connector = connector
        self.variables: Mapping[str, JsonValue] = variables or {}
        self.resources = resources  # the machine's CPUs and memory, when known: `harmony check` adds up limits
        self._accounts = ShadowAccounts(connector, name)
        self._packages = AptPackages(connector, name)

    @classmethod
    def local(
        cls,
        *,
        root: Path | None = None,
        name: str = "localhost",
        create_root: bool = False,
        netns: str | None = None,
        resources: HostResources | None = None,
    ) -> LinuxHost:
        """The local machine; ``root`` re-roots managed paths (for tests and sandboxes), created when asked.

        A re-rooted host manages files only: accounts and packages refuse to run against a sandbox, and
        commands always run against the real system. With ``netns`` commands (and so daemons) run inside
        that network namespace of this machine: a box simulated by a namespace.
        """
        connector = LocalConnector(name=name, root=root or Path("/"), create_root=create_root, netns=netns)
        return cls(name=name, connector=connector, resources=resources)

    @classmethod
    def ssh(
        cls,
        address: IPAddress | Hostname,
        *,
        name: str | None = None,
        port: Port = Port(22),  # noqa: B008 - an immutable int subclass, safe as a default
        user: str = "root",
        key: Path | None = None,
        known_hosts: Path | None = None,
        check_host_key: bool = True,
        become: bool | None = None,
        keepalive: float = 10.0,
    ) -> LinuxHost:
        """A host over SSH. ``become`` (default: when ``user`` is not root) runs commands through ``sudo -n``.

        ``check_host_key=False`` accepts any host key: only for throw-away lab hosts. A host that stops
        answering ``keepalive`` seconds apart, three times in a row, is taken as unreachable.
        """
        from harmony.infra.ssh import SshConnector  # asyncssh costs 0.2 s to import; local runs never need it

        connector = SshConnector(
            name=name or str(address),
            address=str(address),
            port=int(port),
            user=user,
            key=key,
            known_hosts=known_hosts,
            check_host_key=check_host_key,
            become=become,
            keepalive=keepalive,
        )
        return cls(name=name or str(address), connector=connector)

    @classmethod
    def from_inventory(
        cls, host: Host, *, known_hosts: Path | None = None, check_host_key: bool = True, keepalive: float = 10.0
    ) -> LinuxHost:
        """The inventory ``host`` over SSH, with its address, port, user, key, variables and resources."""
        reached = cls.ssh(
            host.address,
            name=str(host.name),
            port=host.ssh_port,
            user=host.user,
            key=host.key,
            known_hosts=known_hosts,
            check_host_key=check_host_key,
            keepalive=keepalive,
        )
        return cls(name=reached.name, connector=reached.connector, variables=host.variables, resources=host.resources)

    @property
    def name(self) -> str:
        return self._name

    @property
    def management_ports(self) -> tuple[int, ...]:
        """The SSH port Harmony reaches this host on (none for the local machine)."""
        port: object = getattr(self.connector, "port", None)  # an SSH connector's; the local one has none
        return (port,) if isinstance(port, int) else ()

    def variables_as[M: BaseModel](self, model: type[M]) -> M:
        """This host's inventory ``variables`` read into ``model`` (a host not from an inventory has none)."""
        return read_variables(model, self.variables, host=self._name)

    async def ensure_ready(self) -> None:
        await self.connector.open()

    async def close(self) -> None:
        await self.connector.close()

    def run_lock(self) -> RunLock:
        return self.connector.run_lock()

    # ManagedFiles
    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        return await self.connector.stat_files(paths, with_content=with_content)

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self.connector.write_file(path, content, mode=mode, owner=owner, group=group)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self.connector.make_directory(path, mode=mode, owner=owner, group=group)

    async def make_symlink(self, path: PurePosixPath, target: str) -> None:
        await self.connector.make_symlink(path, target)

    async def remove_path(self, path: PurePosixPath) -> None:
        await self.connector.remove_path(path)

    # CommandRunner
    async def run_command(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return await self.connector.run_command(argv, stdin=stdin, timeout=timeout)

    # UsersAndGroups
    async def accounts(self) -> Accounts:
        return await self._accounts.accounts()

    async def ensure_user(
        self,
        name: str,
        *,
        uid: int | None,
        primary_group: str | None,
        groups: Sequence[str] | None,
        home: str | None,
        shell: str | None,
        comment: str | None,
        system: bool,
    ) -> None:
        await self._accounts.ensure_user(
            name,
            uid=uid,
            primary_group=primary_group,
            groups=groups,
            home=home,
            shell=shell,
            comment=comment,
            system=system,
        )

    async def remove_user(self, name: str) -> None:
        await self._accounts.remove_user(name)

    async def ensure_group(self, name: str, *, gid: int | None, system: bool) -> None:
        await self._accounts.ensure_group(name, gid=gid, system=system)

    async def remove_group(self, name: str) -> None:
        await self._accounts.remove_group(name)

    # SystemPackages
    async def installed_versions(self, names: Sequence[str]) -> Mapping[str, str | None]:
        return await self._packages.installed_versions(names)

    async def install(self, versions: Mapping[str, str | None]) -> None:
        await self._packages.install(versions)

    async def remove(self, names: Sequence[str]) -> None:
        await self._packages.remove(names)
