"""How an application is reached: a load-balancer frontend in front of its current version, and a DNS name.

The frontend is named after the application and, once a deploy is done, has exactly the containers of the
serving version as backends (named after them), each on its loopback port. A switch adds the new backend
first, then removes the old ones with ``remove_backend`` (drain, wait for in-flight connections up to the
grace period, remove), so no request is refused or cut. The DNS record set is owned by the application.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.capabilities.dns import ARecord, DnsRecordSet
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.change import Change
from harmony.domain.errors import InvalidValueError
from harmony.domain.names import NonEmpty, ResourceName
from harmony.domain.units import Duration
from harmony.domain.values import Hostname, IPv4Address, Port

LOOPBACK = IPv4Address("127.0.0.1")


class Exposure(BaseModel):
    """``hostname`` (in ``zone``) resolves to ``address``, where the load balancer listens on ``port``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: Hostname
    zone: Hostname
    port: Port
    address: IPv4Address = LOOPBACK
    mode: Literal["http", "tcp"] = "http"
    check_interval: Duration = Field(
        default=timedelta(seconds=1), gt=timedelta(0), description="time between load-balancer health checks"
    )

    @model_validator(mode="after")
    def _reachable_name(self) -> Self:
        if not self.hostname.within(self.zone):
            raise InvalidValueError("hostname", str(self.hostname), f"a name inside the zone {self.zone}")
        if self.address.is_unspecified or self.address.is_multicast:
            raise InvalidValueError(
                "address", str(self.address), "one address clients can connect to (it becomes the DNS answer)"
            )
        return self

    @property
    def url(self) -> str:
        return f"http://{self.hostname}:{self.port}/" if self.mode == "http" else f"{self.hostname}:{self.port}"


def backend_for(container: str, host_port: int) -> Backend:
    return Backend(name=ResourceName(container), address=LOOPBACK, port=Port(host_port))


def frontend_for(app: ResourceName, exposure: Exposure, backends: NonEmpty[Backend]) -> Frontend:
    return Frontend(
        name=app,
        address=exposure.address,
        port=exposure.port,
        mode=exposure.mode,
        backends=backends,
        health_check=HealthCheck(protocol="tcp", interval=exposure.check_interval),
    )


def record_set_for(app: ResourceName, exposure: Exposure) -> DnsRecordSet:
    return DnsRecordSet(
        owner=app,
        zone=exposure.zone,
        records=(ARecord(name=exposure.hostname, address=exposure.address),),
    )


def plan_exposure(
    app: ResourceName,
    exposure: Exposure,
    serving: NonEmpty[Backend] | None,
    frontends: Sequence[Frontend],
    record_sets: Sequence[DnsRecordSet],
) -> list[Change]:
    """Changes to the frontend and DNS so that only ``serving`` takes traffic (``None``: a new version will)."""
    changes: list[Change] = []
    current = next((f for f in frontends if f.name == app), None)
    if serving is None or current is None or frontend_for(app, exposure, serving) != current:
        now = "none" if current is None else ", ".join(f"{b.name}@{b.port}" for b in current.backends)
        wanted = "the new version" if serving is None else ", ".join(f"{b.name}@{b.port}" for b in serving)
        changes.append(
            Change.update(f"frontend {app} {exposure.address}:{exposure.port}", f"backends {now} -> {wanted}\n")
        )
    wanted_set = record_set_for(app, exposure).sorted()
    if wanted_set not in [s.sorted() for s in record_sets if s.owner == app]:
        changes.append(Change.update(f"dns {exposure.hostname}", f"A {exposure.address}\n"))
    return changes
