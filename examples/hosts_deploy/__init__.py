"""Configure this machine and three SSH hosts at once: one ``HostGroup``, the same Scores on every host.

    python -m harmony.testing.ssh_lab up .harmony/lab 3     # three namespace hosts, each with its own sshd
    harmony plan  examples/hosts_deploy                      # per-host diffs
    harmony apply examples/hosts_deploy --yes                # SUCCESS on 4 hosts; again: all NOOP
    python -m harmony.testing.ssh_lab down .harmony/lab

The hosts come from the lab's inventory (``$HARMONY_LAB``, default ``.harmony/lab``); host keys are checked
against the lab's ``known_hosts``. Everything lands under ``$HARMONY_DEMO_DIR`` (default
``/srv/harmony-demo``) on each host, including this machine.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from harmony.domain.errors import DeploymentError
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Inventory
from harmony.domain.units import FileMode
from harmony.modules.commands import Command, sh
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink, UploadedFile, render_template
from harmony.topology.linux_host import LinuxHost

HERE = Path(__file__).parent
lab = Path(os.environ.get("HARMONY_LAB", ".harmony/lab")).absolute()
demo = PurePosixPath(os.environ.get("HARMONY_DEMO_DIR", "/srv/harmony-demo"))

if not (lab / "inventory.json").exists():
    raise DeploymentError(f"no lab inventory in {lab}; start one with `python -m harmony.testing.ssh_lab up {lab} 3`")
inventory = Inventory.model_validate_json((lab / "inventory.json").read_text())

hosts = [
    LinuxHost.local(name="local"),
    *(LinuxHost.from_inventory(h, known_hosts=lab / "known_hosts") for h in inventory.select(group="lab")),
]

deployment = HostGroup(hosts=hosts, parallelism=8, label="office").deploy(
    [
        ManagedDirectory(path=demo, mode=FileMode("0755")),
        ManagedFile(
            path=demo / "app.conf",
            content=render_template(HERE / "templates" / "app.conf.j2", {"site": "office-1", "workers": 4}),
            mode=FileMode("0640"),
        ),
        UploadedFile(source=HERE / "files" / "banner.txt", path=demo / "banner.txt", mode=FileMode("0644")),
        Symlink(path=demo / "current.conf", target="app.conf"),
        Command(argv=sh(f"date -u > {demo}/installed-at"), creates=demo / "installed-at", label="install stamp"),
    ],
)
