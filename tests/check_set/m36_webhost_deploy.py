# mistake: the release symlink pointing at itself
# The shop web server: nginx from the distribution, the site's files, and the account that deploys them.
from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.domain.values import ip_address
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink, render_template
from harmony.modules.packages import DebianPackage
from harmony.modules.users import Group, User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(ip_address("10.0.0.20"), user="admin")

SITE_ROOT = PurePosixPath("/srv/shop")
RELEASE = "2026-11-28"

nginx_site = render_template(
    """server {
    listen {{ port }};
    server_name {{ server_name }};
    root {{ root }}/current;
}
""",
    {"port": 80, "server_name": "shop.example.org", "root": str(SITE_ROOT)},
)

deployment = Deployment(
    topology=host,
    scores=[
        DebianPackage(package="nginx"),
        DebianPackage(package="curl"),
        Group(group="deploy", gid=2000),
        User(user="deploy", uid=2000, primary_group="deploy", shell="/bin/bash"),
        ManagedDirectory(path=SITE_ROOT, mode=FileMode("0755"), owner="deploy", group="deploy"),
        ManagedDirectory(path=SITE_ROOT / "releases", mode=FileMode("0755"), owner="deploy"),
        ManagedDirectory(path=SITE_ROOT / "releases" / RELEASE, mode=FileMode("0755"), owner="deploy"),
        Symlink(path=SITE_ROOT / "current", target="current"),
        ManagedFile(
            path=PurePosixPath("/etc/nginx/sites-enabled/shop.conf"), content=nginx_site, mode=FileMode("0644")
        ),
        ManagedFile(path=PurePosixPath("/etc/motd"), content="shop: managed by harmony\n", mode=FileMode("0644")),
    ],
)
