# fails: load
"""The same host listed twice in one HostGroup: two concurrent runs on one machine."""

from pathlib import Path

from harmony.domain.host_group import HostGroup
from harmony.domain.values import Hostname
from harmony.modules.packages import DebianPackage
from harmony.topology.linux_host import LinuxHost

web1 = LinuxHost.ssh(Hostname("web1.office.lan"), known_hosts=Path("known_hosts"))
web2 = LinuxHost.ssh(Hostname("web2.office.lan"), known_hosts=Path("known_hosts"))
deployment = HostGroup(hosts=[web1, web2, web1]).deploy(  # expect-load-error: duplicate_host
    [DebianPackage(package="nginx")]
)
