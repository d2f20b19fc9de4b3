# fails: type check
"""A HostGroup of host names is not a group of topologies that manage files."""

from pathlib import PurePosixPath

from harmony.domain.host_group import HostGroup
from harmony.modules.files import ManagedFile

deployment = HostGroup(hosts=["web-1", "web-2"]).deploy([ManagedFile(path=PurePosixPath("/a"))])  # expect-error
