"""Enrolling a device over SSH, and revoking it.

``enroll``: the host is reached over SSH first (an unreachable host changes nothing). Then the device gets
its own NATS user (``FleetHome.add_device``: a new identity only the first time), is registered with its
labels, and its agent is installed by the Scores of ``fleet.install`` on the host: binary, credentials,
configuration, the fleet's release public key (agent upgrades are checked with it), service; it returns once
the agent's first heartbeat is seen, and records where the agent is installed (``fleet.enrollments``).
Before the agent is started, enroll waits until the server accepts the device's new user (``fleet server``
rereads its authorization within a second of a change), so a slow reload is not mistaken for a broken agent.
Enrolling an enrolled device again changes nothing (every Score is NOOP).
A first enrollment that fails is undone: the new user, the record and what was installed are removed again.

``revoke``: the device's user is removed from the authorization and its record from the fleet first; once
the server has reread the authorization it refuses that device (its open connection is closed by the
server). Then, when the device was enrolled over SSH, its agent is stopped and removed from the host
(``AgentRemoved``). A host that cannot be reached keeps its agent (which can no longer reach the fleet); the
enrollment is kept so that revoking again removes it once the host is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harmony.domain.errors import HarmonyError, InvalidValueError, KeyValueAuthError, KeyValueUnavailable
from harmony.domain.outcome import Status
from harmony.fleet.agent_release import public_key_text, signing_key
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.enrollments import Enrollment, HostAccess, forget_enrollment, load_enrollment, save_enrollment
from harmony.fleet.install import AgentLayout, install_scores, release_key_file, removal_score
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


async def reach(host: LinuxHost, access: HostAccess, device: str) -> None:
    """Connect to the host, or fail saying that nothing was changed and what to check."""
    try:
        await host.ensure_ready()
    except HarmonyError as e:
        await host.close()
        raise EnrollError(
            f"cannot reach the host of {device} at {access.where()}: {e}. Nothing was changed; check the "
            "address, --port, --user, --key and --known-hosts, then enroll again"
        ) from e


async def enroll(
    home: FleetHome,
    control: FleetControl,
    access: HostAccess,
    *,
    device: str,
    binary: AgentBinary,
    labels: Mapping[str, str],
    servers: Sequence[str] | None = None,
    layout: AgentLayout | None = None,
    accept_timeout: float = 30.0,
    heartbeat_timeout: float = 120.0,
) -> Enrolled:
    """Register ``device`` with its own NATS user and install its agent on the host ``access`` reaches;
    ``servers``: how the device reaches NATS (default: the fleet home's)."""
    enrollment = Enrollment.of(device, access, layout or AgentLayout())
    before = load_enrollment(home, device)
    if before is not None and (before.access, before.root) != (access, enrollment.root):
        raise InvalidValueError(
            "HOST",
            f"{access.where()} {enrollment.root}",
            f"{before.access.where()} {before.root} (where {device} is enrolled): revoke it first to move it",
        )
    host = access.host(device)
    await reach(host, access, device)
    new = not home.device_file(device).exists()
    layout = enrollment.layout()
    target = AgentHost(host, heartbeats=StoreHeartbeats(control.bus.bucket(HEARTBEAT)))
    try:
        identity = home.add_device(device)
        if servers is not None:
            identity = identity.model_copy(update={"servers": tuple(servers)})
        await wait_accepted(identity, timeout=accept_timeout)
        current = next((r for r in await control.devices() if r.device == device), None)
        if current is None or current.labels != dict(labels):
            await control.register(device, labels)
        placed, credentials, config, service = install_scores(
            binary, identity, layout=layout, heartbeat_timeout=heartbeat_timeout
        )
        key = release_key_file(layout, public_key_text(signing_key(home.path)))
        report = await Maestro(target).apply((placed, credentials, config, key, service))
        if report.status == Status.FAILURE:
            raise EnrollError(f"installing the agent of {device} on {host.name} failed: {report.error}")
    except Exception:
        if new:  # a first enrollment leaves nothing behind
            await undo(home, control, target, device, layout)
        raise
    finally:
        await target.close()
    save_enrollment(home, enrollment)
    return Enrolled(device, report)


async def undo(home: FleetHome, control: FleetControl, target: AgentHost, device: str, layout: AgentLayout) -> None:
    """Best effort: what a failed first enrollment made, removed (the original error is what is reported)."""
    home.remove_device(device)
    with contextlib.suppress(HarmonyError, OSError):
        await control.bus.bucket(DEVICES).delete(device)
    with contextlib.suppress(HarmonyError, OSError):
        await Maestro(target).apply([removal_score(device, layout)])


@dataclass(frozen=True)
class Revoked:
    device: str
    where: str | None
    """The host its agent was installed on (None: registered by hand, no host known)."""
    cleaned: bool
    detail: str

    def sentence(self) -> str:
        head = f"{self.device} revoked: its NATS user and record are removed"
        if self.where is None:
            return f"{head}; no host is recorded for it (registered by hand), nothing to clean"
        if self.cleaned:
            return f"{head}; its agent on {self.where} is stopped and removed ({self.detail})"
        return (
            f"{head}; its host {self.where} could not be cleaned ({self.detail}): the agent there can no longer "
            f"reach the fleet; run `harmony fleet revoke {self.device}` again once the host is reachable to remove it"
        )


async def revoke(home: FleetHome, control: FleetControl, device: str) -> Revoked:
    """Remove the device's NATS user and record, then its agent from its host when that can be reached."""
    enrollment = load_enrollment(home, device)
    records = control.bus.bucket(DEVICES)
    known = home.device_file(device).exists() or await records.get(device) is not None
    if not known and enrollment is None:
        raise InvalidValueError("DEVICE", device, "an enrolled device (see `harmony fleet devices`)")
    home.remove_device(device)
    await records.delete(device)
    if enrollment is None:
        return Revoked(device, None, cleaned=False, detail="")
    where = enrollment.access.where()
    target = AgentHost(enrollment.access.host(device), heartbeats=StoreHeartbeats(control.bus.bucket(HEARTBEAT)))
    try:
        report = await Maestro(target).apply([removal_score(device, enrollment.layout())])
    except HarmonyError as e:
        return Revoked(device, where, cleaned=False, detail=str(e))
    finally:
        await target.close()
    if report.status == Status.FAILURE:
        return Revoked(device, where, cleaned=False, detail=report.error or "removing the agent failed")
    forget_enrollment(home, device)
    result = report.results[0].outcome if report.results else None
    done = result.message if result is not None and result.status == Status.SUCCESS else "it was already gone"
    return Revoked(device, where, cleaned=True, detail=done)
