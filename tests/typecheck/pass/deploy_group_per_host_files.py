"""A host group where each host gets its own file, user and package set."""

from pathlib import Path, PurePosixPath

from harmony.domain.host_group import HostGroup
from harmony.domain.units import FileMode
from harmony.domain.values import Hostname
from harmony.modules.files import ManagedFile
from harmony.modules.packages import DebianPackage
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

hosts = [LinuxHost.ssh(Hostname(f"web{i}.office.lan"), known_hosts=Path("known_hosts")) for i in (1, 2, 3)]
deployment = HostGroup(hosts=hosts, parallelism=2).deploy(
    lambda host: [
        ManagedFile(path=PurePosixPath("/etc/hostname"), content=f"{host.name}\n", mode=FileMode("0644")),
        DebianPackage(package="nginx"),
        User(user="deploy", shell="/bin/bash"),
    ]
)
