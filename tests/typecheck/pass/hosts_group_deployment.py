"""The same mixed Scores on a group of SSH hosts and the local host; typed addresses and ports."""

from pathlib import Path, PurePosixPath

from harmony.domain.deployment import Deployment
from harmony.domain.host_group import HostGroup
from harmony.domain.values import Hostname, Port, ip_address
from harmony.modules.commands import Command, sh
from harmony.modules.files import ManagedFile, Symlink
from harmony.modules.packages import DebianPackage
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

hosts = [
    LinuxHost.local(),
    LinuxHost.ssh(ip_address("10.0.0.2"), port=Port(2222), user="deploy", key=Path("id_ed25519")),
    LinuxHost.ssh(Hostname("edge-1.office"), known_hosts=Path("known_hosts")),
]

everything = HostGroup(hosts=hosts, parallelism=4).deploy(
    [
        ManagedFile(path=PurePosixPath("/etc/motd"), content="hi\n"),
        Symlink(path=PurePosixPath("/etc/motd.link"), target="/etc/motd"),
        User(user="deploy"),
        DebianPackage(package="curl", version="7.88.1-10+deb12u5"),
        Command(argv=sh("touch /done"), creates=PurePosixPath("/done")),
    ],
)
files_only = HostGroup(hosts=hosts).deploy([ManagedFile(path=PurePosixPath("/a"))])
single = Deployment(topology=LinuxHost.local(), scores=[ManagedFile(path=PurePosixPath("/a")), User(user="x")])
