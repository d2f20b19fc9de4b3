"""Managed files on the local host, a smoke test of the right Score type, a failover pair of hosts."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harmony import Deployment, Maestro, Outcome, SmokeTest, verify
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.failover import FilesFailover
from harmony.topology.linux_host import LinuxHost


class MotdSaysHello(SmokeTest[ManagedFile]):
    async def run(self, score: ManagedFile) -> Outcome:
        ok = "hello" in str(score.content)  # a Secret content reads as its masked form
        return Outcome.success("says hello") if ok else Outcome.failure("does not say hello")


host = LinuxHost.local(root=Path("/tmp/sandbox"), create_root=True)
motd = ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\n", mode=FileMode("0644"))
deployment = Deployment(
    topology=host,
    scores=[ManagedDirectory(path=PurePosixPath("/etc")), motd],
    smoke_tests=[verify(motd, MotdSaysHello())],
)

pair = FilesFailover(primary=LinuxHost.local(root=Path("/tmp/a")), replica=LinuxHost.local(root=Path("/tmp/b")))
replicated = Deployment(topology=pair, scores=[motd])


async def run_it() -> None:
    report = await Maestro(host).apply([motd])
    print(report.status)
