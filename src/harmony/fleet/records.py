"""What the fleet keeps in NATS KV: buckets, keys and the JSON records in them.

    bucket              key                         written by   value
    fleet_devices       <device>                    control      DeviceRecord (labels)
    fleet_desired       <device>.<deployment>       control      the Score's own JSON (the union's wire form)
    fleet_rollouts      <deployment>                control      Rollout (see rollout.py)
    fleet_state         <device>.<deployment>       device       DeploymentState
    (``<device>.harmony-agent`` in fleet_desired/fleet_state: the agent's own version, see agent_release.py)
    fleet_info          <device>                    device       DeviceInfo
    fleet_heartbeat     <device>                    device       Heartbeat (agent.heartbeat; a few dozen bytes)
    fleet_controller    lease                       controllers  Lease: which `fleet serve` drives rollouts
    fleet_controller    beat.<controller>           controller   ControllerBeat (each controller's own clock)

The desired state is the Score itself, not an envelope: a device validates it with ``score_adapter()``. Its
version is the first 12 hex digits of the SHA-256 of those bytes, computed the same way on both sides.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from harmony.agent.heartbeat import Heartbeat
from harmony.domain.errors import InvalidValueError

__all__ = ["Heartbeat"]  # the one heartbeat of every agent role, re-exported for the fleet

DEVICES = "fleet_devices"
DESIRED = "fleet_desired"
ROLLOUTS = "fleet_rollouts"
STATE = "fleet_state"
INFO = "fleet_info"
HEARTBEAT = "fleet_heartbeat"
CONTROLLER = "fleet_controller"
BUCKETS = (DEVICES, DESIRED, ROLLOUTS, STATE, INFO, HEARTBEAT, CONTROLLER)
DESIRED_LIVE = "fleet.desired"
"""fleet.desired.<device>.<deployment>: each desired state ``fleet_desired`` stored, republished by its stream
(a device agent's watch takes its changes from there: see ``NatsKeyValue.watch(live=...)``)."""
REPUBLISHED = {DESIRED: DESIRED_LIVE}
"""The buckets whose streams republish what they store, and where to."""
COMMANDS = "fleet.cmd"  # fleet.cmd.<device>.<verb>
CONTROLLER_STATUS = "fleet.controller.status"  # answered by the active controller only

_TOKEN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_token(what: str, value: str) -> str:
    """A device or deployment name: it becomes one subject token, so no dots, wildcards or spaces."""
    if not _TOKEN.match(value):
        raise InvalidValueError(what, value, "lower-case letters, digits and '-', starting with a letter or digit")
    return value


def version_of(desired: bytes) -> str:
    """The version of a desired-state entry: what a device reports once it runs exactly these bytes."""
    return hashlib.sha256(desired).hexdigest()[:12]


def now() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)


class DeviceRecord(Record):
    """A registered device and its labels (what selectors match)."""

    device: str
    labels: dict[str, str] = Field(default_factory=dict[str, str])
    registered_at: datetime = Field(default_factory=now)


type Phase = Literal["applying", "running", "failed", "rejected", "removed"]


class DeploymentState(Record):
    """What one device reports for one deployment.

    ``running``: the workload runs and its checks passed (healthy); ``failed``: the apply failed (the
    previous version, if any, keeps running); ``rejected``: the desired entry is not a Score this device can
    run (malformed, unknown kind); ``removed``: the desired entry was deleted.
    """

    deployment: str
    version: str
    phase: Phase
    message: str = ""
    details: tuple[str, ...] = ()
    run: str = ""
    """The device's journal run that applied it (``harmony runs show RUN`` there); empty when nothing was applied."""
    at: datetime = Field(default_factory=now)


class DeviceInfo(Record):
    device: str
    hostname: str
    agent: str
    runtime: str
    started_at: datetime
    release: str = ""
    """The agent release it runs (``harmony fleet agent-release``); empty: the build it was installed with."""
