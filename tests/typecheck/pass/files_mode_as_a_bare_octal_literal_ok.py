"""Fixed: a directory mode as a FileMode, built from the digits chmod takes."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

shop = User(user="shop", shell="/usr/sbin/nologin")
logs = ManagedDirectory(path=PurePosixPath("/var/log/shop"), mode=FileMode("750"), owner="shop")
deployment = Deployment(topology=LinuxHost.local(), scores=[shop, logs])
