# fails: type check
"""Something that is not a Score in the Score list."""

from __future__ import annotations

from pathlib import Path

from harmony import Deployment, Outcome
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(topology=LinuxHost.local(root=Path("/x")), scores=[Outcome.noop()])  # expect-error
