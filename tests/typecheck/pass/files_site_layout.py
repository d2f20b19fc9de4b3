"""A site's files: directories, configs, a release symlink and an uploaded binary."""

from pathlib import Path, PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink, UploadedFile
from harmony.modules.users import Group, User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        Group(group="www", gid=2100),
        User(user="www", uid=2100, primary_group="www", home="/srv/www", shell="/usr/sbin/nologin"),
        ManagedDirectory(path=PurePosixPath("/srv/www"), mode=FileMode("0755"), owner="www", group="www"),
        ManagedDirectory(path=PurePosixPath("/srv/www/releases"), mode=FileMode("0755"), owner="www"),
        ManagedDirectory(path=PurePosixPath("/srv/www/releases/2026-11-28"), mode=FileMode("0755"), owner="www"),
        Symlink(path=PurePosixPath("/srv/www/current"), target="releases/2026-11-28"),
        UploadedFile(source=Path("build/site.tar"), path=PurePosixPath("/srv/www/releases/2026-11-28/site.tar")),
        ManagedFile(
            path=PurePosixPath("/etc/default/www"),
            content="ROOT=/srv/www/current\n",
            mode=FileMode("0640"),
            group="www",
        ),
    ],
)
