"""Enrolling a device over SSH, and revoking it.

``enroll``: the device gets its own NATS user (``FleetHome.add_device``: a new identity only the first time),
is registered with its labels, and its agent is installed by the Scores of ``fleet.install`` on the host over
SSH: binary, credentials, the fleet's release public key (agent upgrades are checked with it), service; it
returns once the agent's first heartbeat is seen. Before the agent is started, enroll waits until the server
accepts the device's new user (``fleet server`` rereads its authorization within a second of a change), so a
slow reload is not mistaken for a broken agent. Enrolling an enrolled device again changes nothing (every
Score is NOOP).

``revoke``: the device's user is removed from the authorization and its record from the fleet; once the
server has reread the authorization it refuses that device (its open connection is closed by the server).
The agent on the host is left as it is: it can no longer reach the fleet. Not guaranteed: revoking does
not uninstall the agent from the host (the host may be unreachable, which is often why it is revoked).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harmony.domain.errors import HarmonyError, KeyValueAuthError, KeyValueUnavailable
from harmony.domain.outcome import Status
from harmony.fleet.agent_release import public_key_text, signing_key
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.install import AgentLayout, install_scores, release_key_file
from harmony.fleet.records import DEVICES, HEARTBEAT
from harmony.infra.nats import NatsConnection, NatsOptions, fleet_options
from harmony.maestro.runner import Maestro, RunReport
from harmony.modules.agent.binary import AgentBinary
from harmony.topology.agent_host import AgentHost, StoreHeartbeats
from harmony.topology.linux_host import LinuxHost


class EnrollError(HarmonyError):
    """Enrolling did not finish; the message says which step and what to do."""


def device_options(identity: Identity) -> NatsOptions:
    return fleet_options(
        servers=identity.servers, user=identity.user, password=identity.password,
        inbox_prefix=identity.inbox_prefix, name=identity.user,
    )  # fmt: skip


async def wait_accepted(identity: Identity, *, timeout: float) -> None:
    """Until the server accepts ``identity`` (it rereads its authorization after a change)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            bus = await NatsConnection.connect(device_options(identity))
        except (KeyValueAuthError, KeyValueUnavailable) as e:
            if time.monotonic() > deadline:
                raise EnrollError(
                    f"the fleet's NATS does not accept device {identity.device}'s new user after {timeout:g}s ({e}); "
                    "is `harmony fleet server` running on this fleet home?"
                ) from e
            await asyncio.sleep(0.5)
        else:
            await bus.close()
            return


@dataclass(frozen=True)
class Enrolled:
    device: str
    report: RunReport

    @property
    def changed(self) -> bool:
        return any(r.outcome is not None and r.outcome.status == Status.SUCCESS for r in self.report.results)


async def enroll(
    home: FleetHome,
    control: FleetControl,
    host: LinuxHost,
    *,
    device: str,
    binary: AgentBinary,
    labels: Mapping[str, str],
    servers: Sequence[str] | None = None,
    layout: AgentLayout | None = None,
    accept_timeout: float = 30.0,
    heartbeat_timeout: float = 120.0,
) -> Enrolled:
    """Register ``device`` with its own NATS user and install its agent on ``host``; ``servers``: how the
    device reaches NATS (default: the fleet home's)."""
    identity = home.add_device(device)
    if servers is not None:
        identity = identity.model_copy(update={"servers": tuple(servers)})
    await wait_accepted(identity, timeout=accept_timeout)
    current = next((r for r in await control.devices() if r.device == device), None)
    if current is None or current.labels != dict(labels):
        await control.register(device, labels)
    placed, credentials, service = install_scores(binary, identity, layout=layout, heartbeat_timeout=heartbeat_timeout)
    key = release_key_file(layout or AgentLayout(), public_key_text(signing_key(home.path)))
    scores = (placed, credentials, key, service)
    target = AgentHost(host, heartbeats=StoreHeartbeats(control.bus.bucket(HEARTBEAT)))
    try:
        report = await Maestro(target).apply(scores)
    finally:
        await target.close()
    if report.status == Status.FAILURE:
        raise EnrollError(f"installing the agent of {device} on {host.name} failed: {report.error}")
    return Enrolled(device, report)


async def revoke(home: FleetHome, control: FleetControl, device: str) -> bool:
    """Remove the device's NATS user and its record; False when it was not enrolled."""
    removed = home.remove_device(device)
    await control.bus.bucket(DEVICES).delete(device)
    return removed
