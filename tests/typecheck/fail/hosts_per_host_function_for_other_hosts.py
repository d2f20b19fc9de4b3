# fails: type check
"""A per-host function written for another kind of host, or one that returns no Scores."""

from pathlib import PurePosixPath

from harmony.domain.host_group import HostGroup
from harmony.domain.score import Score
from harmony.modules.files import ManagedFile
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost


def router_scores(router: EdgeRouter) -> list[Score[EdgeRouter]]:
    return []


group = HostGroup(hosts=[LinuxHost.local(), LinuxHost.local(name="other")])
wrong_host = group.deploy(router_scores)  # expect-error
not_scores = group.deploy(lambda host: [f"/srv/{host.name}"])  # expect-error
one_score = group.deploy(lambda host: ManagedFile(path=PurePosixPath(f"/srv/{host.name}")))  # expect-error
no_such_field = group.deploy(lambda host: [ManagedFile(path=PurePosixPath(host.hostname))])  # expect-error
