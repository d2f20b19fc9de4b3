"""``DnsZone``: records a DNS server answers for one zone, owned by this Score (one record set)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal, Self

from pydantic import model_validator

from harmony.domain.capabilities.dns import (
    CnameRecord,
    DnsRecord,
    DnsRecordSet,
    DnsServer,
    SrvRecord,
    Ttl,
    record_key,
)
from harmony.domain.change import Change
from harmony.domain.claims import Claim, DnsRecordClaim, DnsZoneClaim, NameClaim
from harmony.domain.interpret import Interpret
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.values import DnsName
from harmony.modules.keyed_diff import field_changes, keyed_changes


class DnsZone(Score[DnsServer]):
    """The records of ``zone`` this Score owns; names in the zone without a record answer NXDOMAIN.

    ``owner`` tells this Score's records from other Scores' records in the same zone (default: the zone
    name with dots as dashes). With ``present=False`` the records are removed.
    """

    kind: Literal["dns_zone"] = "dns_zone"
    zone: DnsName
    records: tuple[DnsRecord, ...] = ()
    owner: ResourceName | None = None
    ttl: Ttl = 300
    present: bool = True

    @model_validator(mode="after")
    def _valid_set(self) -> Self:
        self.record_set()  # same checks as the capability's model, before anything runs
        return self

    def claims(self) -> Sequence[Claim]:
        """The owner name always (removing a set still names it); the zone and records while present. A CNAME
        name carrying other records in any record set of the run is a finding of the deployment-wide pass."""
        owner = NameClaim("DNS owner", self.owner_name, "owner" if self.owner else "zone")
        if not self.present:
            return (owner,)
        return (owner, DnsZoneClaim(str(self.zone)), *record_claims(self.owner_name, self.records))

    @property
    def owner_name(self) -> ResourceName:
        return self.owner or default_owner(self.zone)

    @property
    def name(self) -> str:
        return f"dns:{self.owner_name}"

    def record_set(self) -> DnsRecordSet:
        return DnsRecordSet(owner=self.owner_name, zone=self.zone, records=self.records, ttl=self.ttl).sorted()

    def interpret(self) -> Interpret[DnsServer]:
        return DnsZoneInterpret(self)


class DnsZoneInterpret(Interpret[DnsServer]):
    def __init__(self, score: DnsZone) -> None:
        self.score = score

    async def plan(self, topology: DnsServer) -> Sequence[Change]:
        owner = self.score.owner_name
        current = next((rs for rs in await topology.dns_record_sets() if rs.owner == owner), None)
        return plan_record_set(self.score.record_set() if self.score.present else None, current)

    async def apply(self, topology: DnsServer, changes: Sequence[Change]) -> Outcome:
        if not self.score.present:
            await topology.remove_dns_record_set(self.score.owner_name)
            return Outcome.success(f"removed the records of {self.score.owner_name}")
        await topology.put_dns_record_set(self.score.record_set())
        return Outcome.success(
            f"zone {self.score.zone}: {len(self.score.records)} records", *(c.target for c in changes)
        )


def default_owner(zone: str) -> ResourceName:
    """The owner a zone's records get when the Score names none: the zone with dots as dashes, made a valid
    ``ResourceName`` for any zone (``zone-`` before one that starts with a digit, as reverse zones do; a
    digest of a name too long)."""
    name = zone.replace(".", "-")
    if not name[:1].isalpha():
        name = "zone-" + name
    if len(name) > 63:
        name = name[:54] + "-" + hashlib.sha256(zone.encode()).hexdigest()[:8]
    return ResourceName(name)


def record_claims(owner: str, records: Sequence[DnsRecord]) -> list[Claim]:
    """What a record set publishes, for the deployment-wide DNS rules (CNAME loops, dangling targets)."""
    claims: list[Claim] = []
    for r in records:
        match r:
            case CnameRecord():
                claims.append(DnsRecordClaim(str(r.name), "CNAME", owner, target=str(r.target)))
            case SrvRecord():
                claims.append(DnsRecordClaim(r.owner_name, "SRV", owner, target=str(r.target)))
            case _:
                claims.append(DnsRecordClaim(str(r.name), r.type, owner))
    return claims


def plan_record_set(desired: DnsRecordSet | None, current: DnsRecordSet | None) -> list[Change]:
    """Record by record, what an apply would add and remove (a pure diff, tested as a table)."""
    if desired is None and current is None:
        return []
    before = {record_key(r): record_key(r) for r in current.records} if current else {}
    after = {record_key(r): record_key(r) for r in desired.records} if desired else {}
    changes = keyed_changes("dns record", before, after)
    if desired is not None and current is None and not desired.records:
        changes.append(Change.create(f"dns zone {desired.zone}", f"+ serve {desired.zone} (no records yet)\n"))
    if desired is not None and current is not None:
        changes += field_changes(
            f"dns record set {desired.owner}",
            {"zone": str(current.zone), "ttl": current.ttl},
            {"zone": str(desired.zone), "ttl": desired.ttl},
        )
    if desired is None and current is not None and not current.records:
        changes.append(Change.delete(f"dns zone {current.zone}", f"- serve {current.zone}\n"))
    return changes
