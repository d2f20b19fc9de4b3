"""The device's side of an agent upgrade: download, check, stage, and hand over to the supervisor.

For each desired ``AgentRelease`` (the device's ``harmony-agent`` desired-state key) the agent compares it with
what it runs (``release.json``) and with the last upgrade (``upgrade.json``), both kept by the supervisor:

- already running that version: reported ``running``;
- that exact build (version and sha256) was refused or rolled back here before: reported ``failed`` with the
  reason, never tried again (the fix is a new version);
- staged or on trial: ``applying`` until the supervisor's verdict (the new agent reports it once kept);
- otherwise: downloaded from the object store into a file of mode 0600, checked (size, sha256, ed25519
  signature with the key in ``release-key.pub``), and only then made executable and renamed to
  ``harmony-agent.next``; ``upgrade.json`` says ``staged`` and the supervisor is signalled. A file that fails
  a check is deleted and the upgrade reported ``failed`` (refused): it is never executed.

An agent that does not run under the supervisor reports every release ``failed``: nothing could restart it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from harmony.agent.supervisor import SupervisorLink, UpgradeState
from harmony.domain.errors import KeyValueError
from harmony.fleet.agent_release import AGENT_DEPLOYMENT, PUBLIC_KEY_FILE, AgentRelease, ReleaseRefused, verify_release
from harmony.fleet.records import DeploymentState, Phase
from harmony.infra.nats import NatsObjectStore

type Report = Callable[[DeploymentState], Awaitable[bool]]


class AgentUpgrader:
    def __init__(
        self,
        link: SupervisorLink | None,
        releases: NatsObjectStore,
        report: Report,
        *,
        on_running: Callable[[], Awaitable[None]],
        poll: float = 0.2,
    ) -> None:
        """``on_running``: called when the device runs the desired release (the agent re-announces itself)."""
        self.on_running = on_running
        self.link = link
        self.releases = releases
        self._report = report
        self.poll = poll

    async def report(self, version: str, phase: Phase, message: str) -> None:
        await self._report(DeploymentState(deployment=AGENT_DEPLOYMENT, version=version, phase=phase, message=message))

    async def apply(self, raw: bytes) -> None:
        """Bring this device to the release in ``raw`` (a desired-state value), or report why not."""
        try:
            release = AgentRelease.from_bytes(raw)
        except ValidationError as e:
            await self.report("", "rejected", f"not an agent release: {e.errors()[0]['msg']}")
            return
        if self.link is None:
            await self.report(
                release.version, "failed",
                "this agent does not run under `harmony agent supervise`, so nothing can restart it into a new "
                "version: install it as a service (harmony fleet enroll)",
            )  # fmt: skip
            return
        paths = self.link.paths
        while True:
            current, last = paths.current_version(), paths.read_state()
            tried = last is not None and (last.version, last.sha256) == (release.version, release.sha256)
            if current == release.version:
                await self.report(release.version, "running", f"agent {release.version} runs")
                await self.on_running()
                return
            if tried and last is not None and last.phase in ("refused", "rolled-back"):
                await self.report(release.version, "failed", f"{last.phase}: {last.reason}")
                return
            if not (tried and last is not None and last.phase in ("staged", "trial")):
                break
            await self.report(release.version, "applying", f"{last.phase}: waiting for the supervisor's verdict")
            await asyncio.sleep(self.poll)
        await self._stage(release, current)

    async def _stage(self, release: AgentRelease, current: str) -> None:
        assert self.link is not None
        paths = self.link.paths
        await self.report(release.version, "applying", f"downloading {release.size / 1e6:.1f} MB")
        download = paths.dir / ".harmony-agent.download"
        download.unlink(missing_ok=True)
        try:
            key = _public_key(paths.dir / PUBLIC_KEY_FILE)
            await self.releases.get_file(release.version, download)
            verify_release(release, download, key)
        except ReleaseRefused as e:
            download.unlink(missing_ok=True)
            refused = UpgradeState(
                version=release.version, sha256=release.sha256, previous=current, phase="refused", reason=str(e)
            )
            paths.write_state(refused)
            await self.report(release.version, "failed", f"refused: {e}")
            return
        except KeyValueError as e:  # the store is unreachable or lacks it: tried again at the next resync
            download.unlink(missing_ok=True)
            await self.report(release.version, "failed", f"download failed: {e}")
            return
        download.chmod(0o755)
        download.replace(paths.next)
        paths.write_state(
            UpgradeState(version=release.version, sha256=release.sha256, previous=current, phase="staged")
        )
        await self.report(release.version, "applying", "verified (sha256, signature); restarting into it")
        self.link.request_upgrade()


def _public_key(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise ReleaseRefused(
            f"no fleet release key at {path} ({e.strerror}): enroll the device again (harmony fleet enroll) to "
            "install it"
        ) from e
