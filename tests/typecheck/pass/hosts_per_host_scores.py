"""Scores that vary per host: a function of the host, and typed host variables from the inventory."""

from pathlib import PurePosixPath

from pydantic import BaseModel

from harmony.domain.deployment import Deployment
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Host, Inventory
from harmony.domain.score import Score
from harmony.domain.values import Hostname, Port, ip_address
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost


class AppVariables(BaseModel):
    app_user: str
    port: Port


inventory = Inventory(
    hosts=tuple(
        Host(
            name=Hostname(f"web-{i}"),
            address=ip_address(f"10.0.0.{i + 1}"),
            variables={"app_user": f"app{i}", "port": 8000 + i},
        )
        for i in range(25)
    )
)
group = HostGroup(hosts=[LinuxHost.from_inventory(h) for h in inventory.hosts])

# A lambda: each host gets a user and a file named after it.
by_name: Deployment[LinuxHost] = group.deploy(
    lambda host: [
        User(user=f"svc-{host.name}"),
        ManagedFile(path=PurePosixPath(f"/srv/{host.name}.conf"), content=f"host = {host.name}\n"),
    ]
)


# A function reading the host's typed variables.
def app_scores(host: LinuxHost) -> list[Score[LinuxHost]]:
    variables = host.variables_as(AppVariables)
    home = PurePosixPath("/srv") / variables.app_user
    return [
        User(user=variables.app_user),
        ManagedDirectory(path=home),
        ManagedFile(path=home / "app.conf", content=f"port = {variables.port}\n"),
    ]


by_variables = group.deploy(app_scores)
same_everywhere = group.deploy([ManagedDirectory(path=PurePosixPath("/srv/www"))])
port: Port = inventory.hosts[0].variables_as(AppVariables).port
