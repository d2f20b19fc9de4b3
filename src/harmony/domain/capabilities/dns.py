"""``DnsServer``: authoritative answers for local zones (A, AAAA, CNAME, SRV, PTR records).

Records are grouped in *record sets*, each owned by one party (usually one Score) and replaced as a whole,
so a zone can be filled by several Scores (the office zone by the edge deployment, ``app.office.lan`` by
an application's deployment) and removing a record from a Score removes it from the server.

Consistency contract:
- ``dns_record_sets`` only reads. It returns what the server answers from now, set by set, records sorted.
- ``put_dns_record_set`` replaces the set with the same ``owner`` atomically: after it returns, queries
  answer the new records and none of the old set's records that are gone. Other owners' sets are untouched.
- ``remove_dns_record_set`` removes a set; a missing owner is not an error.
- A name inside a served zone that has no record of the asked type answers NXDOMAIN or an empty answer —
  never a forwarded upstream answer. A zone is served while at least one set names it.
- Failures raise ``DnsError`` (or a subclass) and leave the previous answers in place.
Not guaranteed: answers for names outside every served zone (they may be refused or forwarded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.names import ResourceName
from harmony.domain.values import DnsName, IPAddress, IPv4Address, IPv6Address, Port

type Ttl = Annotated[int, Field(ge=0, le=2_147_483_647, description="time to live in seconds")]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ARecord(_Record):
    """``name`` resolves to an IPv4 ``address``."""

    type: Literal["A"] = "A"
    name: DnsName
    address: IPv4Address


class AaaaRecord(_Record):
    """``name`` resolves to an IPv6 ``address``."""

    type: Literal["AAAA"] = "AAAA"
    name: DnsName
    address: IPv6Address


class CnameRecord(_Record):
    """``name`` is an alias of ``target``."""

    type: Literal["CNAME"] = "CNAME"
    name: DnsName
    target: DnsName


class SrvRecord(_Record):
    """A service location: ``_service._proto.name`` is served by ``target:port``."""

    type: Literal["SRV"] = "SRV"
    name: DnsName = Field(description="the owner name without the _service._proto labels, e.g. office.lan")
    service: Annotated[str, Field(pattern=r"^_[a-z0-9-]{1,62}$", description="e.g. _http")]
    protocol: Literal["_tcp", "_udp"] = "_tcp"
    target: DnsName
    port: Port
    priority: Annotated[int, Field(ge=0, le=65535)] = 0
    weight: Annotated[int, Field(ge=0, le=65535)] = 0

    @property
    def owner_name(self) -> str:
        return f"{self.service}.{self.protocol}.{self.name}"


class PtrRecord(_Record):
    """The reverse mapping: ``address`` resolves back to ``target``."""

    type: Literal["PTR"] = "PTR"
    address: IPAddress
    target: DnsName

    @property
    def name(self) -> DnsName:
        return DnsName(self.address.reverse_pointer)


type DnsRecord = Annotated[ARecord | AaaaRecord | CnameRecord | SrvRecord | PtrRecord, Field(discriminator="type")]


def address_record(name: DnsName, address: IPAddress) -> ARecord | AaaaRecord:
    """An A or AAAA record, whichever ``address`` calls for (e.g. for inventory hosts)."""
    if isinstance(address, IPv4Address):
        return ARecord(name=name, address=address)
    return AaaaRecord(name=name, address=address)


def record_key(record: DnsRecord) -> str:
    """A stable, human sort key and identity for a record (``A web.office.lan 10.0.0.5``)."""
    match record:
        case ARecord() | AaaaRecord():
            return f"{record.type} {record.name} {record.address}"
        case CnameRecord():
            return f"CNAME {record.name} {record.target}"
        case SrvRecord():
            return f"SRV {record.owner_name} {record.priority} {record.weight} {record.port} {record.target}"
        case PtrRecord():
            return f"PTR {record.name} {record.target}"


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


class DnsRecordSet(BaseModel):
    """The records one ``owner`` declares in ``zone``; forward names must lie inside the zone.

    Validation: no duplicate records, no CNAME sharing its name with another record, every forward name
    inside ``zone``. The error names the offending record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: ResourceName
    zone: DnsName
    records: tuple[DnsRecord, ...] = ()
    ttl: Ttl = 300

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        for record in self.records:
            key = record_key(record)
            if key in seen:
                raise InvalidValueError("records", key, "each record once per record set")
            seen.add(key)
            if not isinstance(record, PtrRecord) and not in_zone(record.name, self.zone):
                raise InvalidValueError("records", key, f"a name inside the zone {self.zone}")
        aliases = {str(r.name) for r in self.records if isinstance(r, CnameRecord)}
        for record in self.records:
            if str(record.name) in aliases and not isinstance(record, CnameRecord):
                raise InvalidValueError(
                    "records", record_key(record), f"no other record on {record.name}, which is a CNAME"
                )
        if len([r for r in self.records if isinstance(r, CnameRecord)]) != len(aliases):
            raise InvalidValueError("records", sorted(aliases), "one CNAME per name")
        return self

    def sorted(self) -> DnsRecordSet:
        """The same set with records in a canonical order (how ``dns_record_sets`` returns them)."""
        return self.model_copy(update={"records": tuple(sorted(self.records, key=record_key))})


class DnsServer(Protocol):
    async def dns_record_sets(self) -> Sequence[DnsRecordSet]:
        """Every record set the server answers from, records in canonical order."""
        ...

    async def put_dns_record_set(self, record_set: DnsRecordSet) -> None:
        """Replace the set of ``record_set.owner`` (or add it) atomically."""
        ...

    async def remove_dns_record_set(self, owner: ResourceName) -> None:
        """Stop answering the records of ``owner``; a missing owner is not an error."""
        ...
