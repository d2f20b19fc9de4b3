"""What each page shows, computed from the controller's live view. Pure: no I/O, the clock passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from harmony.domain.errors import InvalidValueError
from harmony.fleet.control import FleetView
from harmony.fleet.rollout import Rollout
from harmony.fleet.status import DeploymentStatus, DeviceStatus, aggregate

type Presence = Literal["online", "offline"]


@dataclass(frozen=True)
class Filters:
    site: str = ""
    label: tuple[str, str] | None = None
    status: Presence | None = None

    @property
    def label_text(self) -> str:
        return f"{self.label[0]}={self.label[1]}" if self.label else ""


def parse_filters(query: Mapping[str, str]) -> Filters:
    """The overview's filters from its query string; ``InvalidValueError`` names the bad field."""
    label = None
    text = query.get("label", "").strip()
    if text:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise InvalidValueError("label", text, "key=value (e.g. ring=canary)")
        label = (key.strip(), value.strip())
    text = query.get("status", "")
    status: Presence | None = "online" if text == "online" else "offline" if text == "offline" else None
    if text and status is None:
        raise InvalidValueError("status", text, "online, offline or empty")
    return Filters(site=query.get("site", "").strip(), label=label, status=status)


@dataclass(frozen=True)
class Running:
    deployment: str
    version: str
    phase: str


@dataclass(frozen=True)
class DeviceRow:
    device: str
    site: str
    labels: str
    online: bool
    heartbeat_age: float | None
    running: tuple[Running, ...]
    healthy: int
    unhealthy: int


@dataclass(frozen=True)
class Overview:
    rows: tuple[DeviceRow, ...]
    total: int
    online: int
    sites: tuple[str, ...]


def overview(view: FleetView, filters: Filters, *, now: datetime) -> Overview:
    online = view.online()
    by_device: dict[str, list[Running]] = {}
    for deployment, states in view.states.items():
        for device, state in states.items():
            if state.phase != "removed":
                by_device.setdefault(device, []).append(Running(deployment, state.version, state.phase))
    rows: list[DeviceRow] = []
    for name in sorted(view.devices):
        record = view.devices[name]
        beat = view.beats.get(name)
        row = DeviceRow(
            device=name,
            site=record.labels.get("site", ""),
            labels=" ".join(f"{k}={v}" for k, v in sorted(record.labels.items()) if k != "site"),
            online=online.get(name, False),
            heartbeat_age=(now - beat[1]).total_seconds() if beat else None,
            running=tuple(sorted(by_device.get(name, []), key=lambda r: r.deployment)),
            healthy=beat[0].ok if beat else 0,
            unhealthy=beat[0].bad if beat else 0,
        )
        if _keep(row, record.labels, filters):
            rows.append(row)
    sites = sorted({r.labels.get("site", "") for r in view.devices.values()} - {""})
    return Overview(tuple(rows), len(view.devices), sum(online.get(d, False) for d in view.devices), tuple(sites))


def _keep(row: DeviceRow, labels: Mapping[str, str], f: Filters) -> bool:
    if f.site and row.site != f.site:
        return False
    if f.label is not None and labels.get(f.label[0]) != f.label[1]:
        return False
    return f.status is None or (f.status == "online") == row.online


@dataclass(frozen=True)
class DesiredVsActual:
    deployment: str
    desired: str | None  # the version released to this device, if any
    rollout_phase: str
    actual: str | None
    phase: str | None
    message: str

    @property
    def in_sync(self) -> bool:
        return self.desired is not None and self.desired == self.actual and self.phase == "running"


def device_deployments(view: FleetView, device: str) -> tuple[DesiredVsActual, ...]:
    """Per deployment on ``device``: the version its desired-state key names, and what the device reports."""
    desired = view.desired.get(device, {})
    names = set(desired) | {d for d, states in view.states.items() if device in states}
    rows: list[DesiredVsActual] = []
    for name in sorted(names):
        rollout = view.rollouts.get(name, (None, None))[0]
        state = view.states.get(name, {}).get(device)
        rows.append(
            DesiredVsActual(
                deployment=name,
                desired=desired.get(name),
                rollout_phase=rollout.phase if rollout is not None else "",
                actual=state.version if state is not None and state.version else None,
                phase=state.phase if state is not None else None,
                message=state.message if state is not None else "",
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class WaveRow:
    number: int
    released: bool
    by: str
    devices: tuple[DeviceStatus, ...]
    healthy: int
    failed: int


def rollout_status(view: FleetView, rollout: Rollout) -> tuple[DeploymentStatus, tuple[WaveRow, ...]]:
    status = aggregate(rollout, view.states.get(rollout.deployment, {}), view.online())
    per_device = {d.device: d for d in status.devices}
    by = {s.wave: s.by for s in rollout.starts}
    waves: list[WaveRow] = []
    for i, wave in enumerate(rollout.waves, start=1):
        rows = tuple(per_device[d] for d in wave)
        waves.append(
            WaveRow(
                number=i,
                released=i <= rollout.next_wave,
                by=by.get(i, ""),
                devices=rows,
                healthy=sum(r.verdict == "healthy" for r in rows),
                failed=sum(r.verdict == "failed" for r in rows),
            )
        )
    return status, tuple(waves)


def rollout_actions(phase: str) -> tuple[str, ...]:
    """What an operator may do to a rollout in ``phase`` (the same rules as ``FleetControl``)."""
    return {
        "running": ("pause", "abort"),
        "paused": ("resume", "abort"),
        "halted": ("resume", "abort"),
    }.get(phase, ())
