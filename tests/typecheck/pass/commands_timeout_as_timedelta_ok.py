"""Fixed: a long migration given an hour, as a timedelta."""

from datetime import timedelta
from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.commands import Command
from harmony.topology.linux_host import LinuxHost

migrate = Command(
    argv=("shop-migrate", "--all"), creates=PurePosixPath("/var/lib/shop/migrated"), timeout=timedelta(hours=1)
)
deployment = Deployment(topology=LinuxHost.local(), scores=[migrate])
