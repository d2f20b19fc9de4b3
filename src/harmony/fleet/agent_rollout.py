"""Rolling a new agent version out to the fleet: publish a signed release, then the fleet's staged waves.

``publish_release`` signs the file with the fleet's key and stores it in the object store under its version.
``roll_out_release`` records a rollout of the ``harmony-agent`` deployment whose desired state is the release
record: the same ``Rollout`` as for a Score, driven by ``FleetControl.drive`` or ``harmony fleet serve``, so
waves, pause/resume/abort and the auto-halt are the fleet's own. A device reports the upgrade in its
``harmony-agent`` state: ``running`` once the new agent heartbeats under its supervisor, ``failed`` when the
file was refused or the new agent rolled back (the reason is the message), which halts the rollout above the
failure threshold. Unlike a workload's, an agent rollout waits for every device of a wave, offline or not: a
new agent that stops heartbeating is the failure being watched for, so a device that has not reported within
``wave_timeout`` counts as failed. Roll forward only: devices already upgraded stay on the new version when it halts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harmony.domain.errors import InvalidValueError
from harmony.fleet.agent_release import AGENT_DEPLOYMENT, RELEASES, AgentRelease, sign_release, signing_key
from harmony.fleet.control import FleetControl
from harmony.fleet.records import ROLLOUTS
from harmony.fleet.rollout import Rollout, Strategy, matches, plan_waves
from harmony.infra.nats import NatsObjectStore


async def publish_release(control: FleetControl, home: Path, *, version: str, binary: Path) -> AgentRelease:
    """Sign ``binary`` as ``version`` with the fleet home's key and store it where devices fetch it."""
    if not binary.is_file():  # noqa: ASYNC240 - one stat before a transfer of megabytes
        raise InvalidValueError("binary", str(binary), "an agent file (harmony agent build --out FILE)")
    release = sign_release(signing_key(home), version, binary)
    store = NatsObjectStore(control.bus, RELEASES)
    await store.ensure()
    await store.put_file(release.version, binary)
    return release


async def roll_out_release(
    control: FleetControl, release: AgentRelease, *, selector: Mapping[str, str], strategy: Strategy
) -> Rollout:
    """Record the rollout of ``release`` to the devices matching ``selector``; ``control.drive`` releases it."""
    targets = [d.device for d in await control.devices() if matches(d.labels, selector)]
    if not targets:
        raise InvalidValueError("selector", dict(selector), "labels that at least one registered device has")
    rollout = Rollout(
        deployment=AGENT_DEPLOYMENT, version=release.version, desired=release.to_bytes().decode(),
        selector=dict(selector), strategy=strategy, waves=plan_waves(targets, strategy),
    )  # fmt: skip
    await control.bus.bucket(ROLLOUTS).publish(AGENT_DEPLOYMENT, rollout.to_bytes())
    return rollout
