"""``DhcpScope``: one subnet served by a DHCP server, with its pools, reservations, options and boot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from harmony.domain.capabilities.dhcp import DhcpReservation, DhcpServer, DhcpSubnet
from harmony.domain.change import Change
from harmony.domain.claims import Claim, DnsRecordClaim, NameClaim, Suspicion
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import AnyScore, Score
from harmony.modules.keyed_diff import field_changes, keyed_changes


class DhcpScope(Score[DhcpServer]):
    """``subnet`` served exactly as declared (``present=False``: not served)."""

    kind: Literal["dhcp_scope"] = "dhcp_scope"
    subnet: DhcpSubnet
    present: bool = True

    @classmethod
    def check_alongside(cls, scores: Sequence[AnyScore]) -> None:
        """Subnets served in one run must not overlap (a MAC reserved twice is a finding of the claims)."""
        mine = [s for s in scores if isinstance(s, DhcpScope)]
        served = [s.subnet for s in mine if s.present]
        for i, a in enumerate(served):
            for b in served[i + 1 :]:
                if a.network.overlaps(b.network):
                    raise InvalidValueError(
                        "subnet", f"{a.network} and {b.network}", "DHCP subnets that do not overlap"
                    )

    @property
    def name(self) -> str:
        return f"dhcp:{self.subnet.network}"

    def claims(self) -> Sequence[Claim]:
        """Reserved names the server also answers in DNS (with the subnet's domain), and reservations inside
        a dynamic pool (legal, since the server never leases a reserved address, but the pool is smaller
        than it looks: a warning)."""
        if not self.present:
            return ()
        s = self.subnet
        claims: list[Claim] = []
        for i, r in enumerate(s.reservations):
            claims.append(NameClaim("MAC address", str(r.mac), f"subnet.reservations[{i}].mac"))
            pool = next((p for p in s.pools if p.start <= r.address <= p.end), None)
            if pool is not None:
                claims.append(
                    Suspicion(
                        "reservation_in_pool",
                        f"subnet.reservations[{i}]",
                        f"{r.mac} -> {r.address} lies inside the dynamic pool {pool}; reserve outside the pool",
                    )
                )
            if r.hostname is not None and s.domain is not None:
                name = str(r.hostname) if r.hostname.within(s.domain) else f"{r.hostname}.{s.domain}"
                claims.append(DnsRecordClaim(name, "A", "dhcp", f"subnet.reservations[{i}].hostname"))
        return claims

    def interpret(self) -> Interpret[DhcpServer]:
        return DhcpScopeInterpret(self)


class DhcpScopeInterpret(Interpret[DhcpServer]):
    def __init__(self, score: DhcpScope) -> None:
        self.score = score

    async def plan(self, topology: DhcpServer) -> Sequence[Change]:
        network = self.score.subnet.network
        current = next((s for s in await topology.dhcp_subnets() if s.network == network), None)
        return plan_subnet(self.score.subnet if self.score.present else None, current)

    async def apply(self, topology: DhcpServer, changes: Sequence[Change]) -> Outcome:
        subnet = self.score.subnet
        if not self.score.present:
            await topology.remove_dhcp_subnet(subnet.network)
            return Outcome.success(f"stopped serving {subnet.network}")
        await topology.put_dhcp_subnet(subnet)
        return Outcome.success(f"serving {subnet.network}", *(c.target for c in changes))


def _reservation(r: DhcpReservation) -> str:
    return f"{r.mac} -> {r.address}" + (f" ({r.hostname})" if r.hostname else "")


def _options(s: DhcpSubnet) -> dict[str, object]:
    return {
        "router": s.router and str(s.router),
        "dns_servers": ",".join(map(str, s.dns_servers)),
        "domain": s.domain,
        "lease_time": s.lease_time,
        "boot": s.boot and s.boot.model_dump_json(),
    }


def plan_subnet(desired: DhcpSubnet | None, current: DhcpSubnet | None) -> list[Change]:
    """Pools, reservations (by MAC) and options that an apply would change (pure, tested as a table)."""
    if desired is None and current is None:
        return []
    subject = desired or current
    assert subject is not None
    changes: list[Change] = []
    if current is None:
        changes.append(Change.create(f"dhcp subnet {subject.network}"))
    elif desired is None:
        changes.append(Change.delete(f"dhcp subnet {subject.network}"))
    changes += keyed_changes(
        "dhcp pool",
        {str(p): str(p) for p in current.pools} if current else {},
        {str(p): str(p) for p in desired.pools} if desired else {},
    )
    changes += keyed_changes(
        "dhcp reservation",
        {str(r.mac): _reservation(r) for r in current.reservations} if current else {},
        {str(r.mac): _reservation(r) for r in desired.reservations} if desired else {},
    )
    if desired is not None:
        before = _options(current) if current else {}
        changes += field_changes(f"dhcp options {desired.network}", before, _options(desired))
    return changes
