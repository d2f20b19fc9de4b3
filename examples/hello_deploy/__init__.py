"""The first deployment: a few managed files on the local host, inside a sandbox root.

    harmony check examples/hello_deploy
    harmony plan  examples/hello_deploy
    harmony apply examples/hello_deploy --yes      # again: every Score is NOOP
    python -m examples.hello_deploy plan           # the same, without the harmony command

The sandbox root is ``$HARMONY_HELLO_ROOT`` (default ``.harmony/hello-root`` in the current directory),
so trying it out never touches the real ``/etc``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

root = Path(os.environ.get("HARMONY_HELLO_ROOT", ".harmony/hello-root")).absolute()

deployment = Deployment(
    topology=LinuxHost.local(root=root, create_root=True),
    scores=[
        ManagedDirectory(path=PurePosixPath("/etc"), mode=FileMode("0755")),
        ManagedFile(
            path=PurePosixPath("/etc/motd"), content="Welcome to a Harmony-managed host.\n", mode=FileMode("0644")
        ),
        ManagedFile(
            path=PurePosixPath("/etc/harmony-site.conf"),
            content="site = office-1\nrole = edge\n",
            mode=FileMode("0600"),
        ),
    ],
)
