# correct
# Every kiosk in the shop-floor gets its own hostname file and the same packages and user.
from pathlib import Path, PurePosixPath

from harmony.domain.host_group import HostGroup
from harmony.domain.units import FileMode
from harmony.domain.values import Hostname
from harmony.modules.files import ManagedFile
from harmony.modules.packages import DebianPackage
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

KIOSKS = ["till-1", "till-2"]

hosts = [LinuxHost.ssh(Hostname(f"{k}.shop-floor.lan"), known_hosts=Path("known_hosts")) for k in KIOSKS]

deployment = HostGroup(hosts=hosts, parallelism=4).deploy(
    lambda host: [
        ManagedFile(path=PurePosixPath("/etc/hostname"), content=f"{host.name}\n", mode=FileMode("0644")),
        DebianPackage(package="firefox-esr"),
        User(user="kiosk", shell="/bin/bash"),
    ]
)
