"""Users and groups with the shadow tools (``useradd``, ``usermod``, ``groupadd`` …) on any connector.

Reads parse ``/etc/passwd`` and ``/etc/group`` fetched through the connector's batched ``stat_files``, so
reading accounts costs no extra round trip when other reads happen in the same tick. Writes are the
shadow tools, which lock and replace the account files themselves. ``remove_user`` keeps the home
directory (``userdel`` without ``-r``): deleting data is left to an explicit Score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from harmony.domain.capabilities.users import Accounts, GroupAccount, UserAccount
from harmony.domain.errors import UsersError
from harmony.infra.connector import Connector

PASSWD = PurePosixPath("/etc/passwd")
GROUP = PurePosixPath("/etc/group")


def parse_accounts(passwd: str, group: str) -> Accounts:
    users: dict[str, UserAccount] = {}
    for line in passwd.splitlines():
        f = line.split(":")
        if len(f) >= 7 and f[0]:
            users[f[0]] = UserAccount(name=f[0], uid=int(f[2]), gid=int(f[3]), comment=f[4], home=f[5], shell=f[6])
    groups: dict[str, GroupAccount] = {}
    for line in group.splitlines():
        f = line.split(":")
        if len(f) >= 4 and f[0]:
            members = tuple(m for m in f[3].split(",") if m)
            groups[f[0]] = GroupAccount(name=f[0], gid=int(f[2]), members=members)
    return Accounts(users=users, groups=groups)


class ShadowAccounts:
    def __init__(self, connector: Connector, host: str) -> None:
        self._c = connector
        self._host = host

    async def accounts(self) -> Accounts:
        files = await self._c.stat_files([PASSWD, GROUP], with_content=True)
        passwd, group = files[PASSWD].content, files[GROUP].content
        if passwd is None or group is None:
            raise UsersError(self._host, "cannot read /etc/passwd and /etc/group")
        return parse_accounts(passwd.decode(errors="replace"), group.decode(errors="replace"))

    async def _tool(self, account: str, argv: Sequence[str]) -> None:
        if self._c.prefix is not None:
            raise UsersError(
                account, f"{self._host} is a sandbox rooted at {self._c.prefix}; accounts need a real host"
            )
        result = await self._c.run_command(argv)
        if result.exit_status != 0:
            raise UsersError(account, f"{argv[0]} exited {result.exit_status}: {result.stderr.strip()}")

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
        exists = name in (await self.accounts()).users
        opts: list[str] = []
        if uid is not None:
            opts += ["-u", str(uid)]
        if primary_group is not None:
            opts += ["-g", primary_group]
        if groups is not None:
            opts += ["-G", ",".join(groups)]
        if home is not None:
            opts += ["-d", home] + (["-m"] if exists else [])
        if shell is not None:
            opts += ["-s", shell]
        if comment is not None:
            opts += ["-c", comment]
        if exists:
            if opts:
                await self._tool(name, ["usermod", *opts, name])
            return
        create = ["-r"] if system else ["-m"]
        await self._tool(name, ["useradd", *create, *opts, name])

    async def remove_user(self, name: str) -> None:
        if name in (await self.accounts()).users:
            await self._tool(name, ["userdel", name])

    async def ensure_group(self, name: str, *, gid: int | None, system: bool) -> None:
        current = (await self.accounts()).groups.get(name)
        if current is None:
            await self._tool(name, ["groupadd", *(["-r"] if system else []), *(["-g", str(gid)] if gid else []), name])
        elif gid is not None and current.gid != gid:
            await self._tool(name, ["groupmod", "-g", str(gid), name])

    async def remove_group(self, name: str) -> None:
        if name in (await self.accounts()).groups:
            await self._tool(name, ["groupdel", name])
