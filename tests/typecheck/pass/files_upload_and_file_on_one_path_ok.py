"""Fixed: an uploaded file and a managed file on the same path: each apply undoes the other."""

from pathlib import Path, PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile, UploadedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        UploadedFile(source=Path("files/nginx.conf"), path=PurePosixPath("/etc/nginx/nginx.conf")),
        ManagedFile(path=PurePosixPath("/etc/nginx/conf.d/workers.conf"), content="worker_processes 2;\n"),
    ],
)
