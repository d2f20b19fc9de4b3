"""``EdgeRouter``: a Linux box — or a network namespace on this machine — that is a site's network edge.

It provides ``NetworkEdge`` (``DnsServer``, ``DhcpServer``, ``BootServer``, ``LoadBalancer``,
``Firewall``) by composing three adapters, each keeping its files under ``state_dir``: dnsmasq (DNS, DHCP,
TFTP), HAProxy (load balancing) and nftables (firewall). With ``netns`` the daemons and the ruleset live in
that network namespace (``ip netns exec``); firewall probes run from ``management_netns`` (default: where
Harmony runs), i.e. from where the operator reaches the router; if a firewall change is not confirmed by
those probes within ``firewall_rollback_after`` seconds (Harmony died, the link dropped), the box restores
the previous ruleset by itself.

The daemons are left running when a run ends (they are the deployment); ``stop()`` stops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from harmony.domain.capabilities.boot import BootFileName, BootScript
from harmony.domain.capabilities.dhcp import DhcpLease, DhcpSubnet
from harmony.domain.capabilities.dns import DnsServer
from harmony.domain.capabilities.firewall import Endpoint, FirewallPolicy, FirewallState
from harmony.domain.capabilities.load_balancer import LoadBalancer
from harmony.domain.errors import TopologyError
from harmony.domain.topology import RunLock
from harmony.domain.values import IPv4Network, MacAddress
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.infra.nftables import Nftables, tcp_probe
from harmony.infra.programs import DNSMASQ, HAPROXY, IP, NFT
from harmony.infra.run_lock import LocalRunLock
from harmony.topology.forwarding import ForwardsDnsServer, ForwardsLoadBalancer

REQUIRED_PROGRAMS = (IP, DNSMASQ, HAPROXY, NFT)


class EdgeRouter(ForwardsLoadBalancer, ForwardsDnsServer):
    """DNS, DHCP with network boot, load balancing and a firewall on one Linux box (or namespace)."""

    def __init__(
        self,
        *,
        name: str,
        state_dir: Path,
        netns: str | None = None,
        dns_port: int = 53,
        interfaces: Sequence[str] = (),
        management_netns: str | None = None,
        firewall_table: str = "harmony",
        firewall_rollback_after: float = 60.0,
    ) -> None:
        self._name = name
        self.state_dir = state_dir
        self.netns = netns
        self.dnsmasq = Dnsmasq(state_dir=state_dir / "dnsmasq", netns=netns, port=dns_port, interfaces=interfaces)
        self.haproxy = Haproxy(state_dir=state_dir / "haproxy", netns=netns)

        async def probe(endpoint: Endpoint) -> str | None:
            return await tcp_probe(endpoint, netns=management_netns)

        self.nftables = Nftables(
            state_dir=state_dir / "nftables",
            netns=netns,
            probe=probe,
            table=firewall_table,
            rollback_after=firewall_rollback_after,
        )

    @property
    def load_balancer(self) -> LoadBalancer:
        return self.haproxy

    @property
    def dns_server(self) -> DnsServer:
        return self.dnsmasq

    @property
    def name(self) -> str:
        return self._name

    async def ensure_ready(self) -> None:
        for program in REQUIRED_PROGRAMS:
            program.require()
        if self.netns is not None and not await asyncio.to_thread(Path(f"/run/netns/{self.netns}").exists):
            raise TopologyError(self._name, f"network namespace {self.netns!r} does not exist (ip netns add)")
        try:
            await asyncio.to_thread(self.state_dir.mkdir, parents=True, exist_ok=True)
        except OSError as e:
            raise TopologyError(self._name, f"cannot create state directory {self.state_dir}: {e}") from e

    async def close(self) -> None:
        return None

    def run_lock(self) -> RunLock:
        """Runs on this router take turns (the firewall's probe must see its own ruleset): a lock file
        beside the adapters' state."""
        return LocalRunLock(self.state_dir / "run.lock", topology=self._name)

    async def stop(self) -> None:
        """Stop the daemons (the configuration and the firewall ruleset stay)."""
        await self.dnsmasq.stop()
        await self.haproxy.stop()

    # DhcpServer
    async def dhcp_subnets(self) -> Sequence[DhcpSubnet]:
        return await self.dnsmasq.dhcp_subnets()

    async def put_dhcp_subnet(self, subnet: DhcpSubnet) -> None:
        await self.dnsmasq.put_dhcp_subnet(subnet)

    async def remove_dhcp_subnet(self, network: IPv4Network) -> None:
        await self.dnsmasq.remove_dhcp_subnet(network)

    async def dhcp_leases(self) -> Sequence[DhcpLease]:
        return await self.dnsmasq.dhcp_leases()

    # BootServer
    async def boot_scripts(self) -> Sequence[BootScript]:
        return await self.dnsmasq.boot_scripts()

    async def put_boot_script(self, script: BootScript) -> None:
        await self.dnsmasq.put_boot_script(script)

    async def remove_boot_script(self, mac: MacAddress | None) -> None:
        await self.dnsmasq.remove_boot_script(mac)

    async def put_boot_file(self, name: BootFileName, content: bytes) -> None:
        await self.dnsmasq.put_boot_file(name, content)

    # Firewall
    async def firewall_state(self) -> FirewallState:
        return await self.nftables.firewall_state()

    async def apply_firewall_policy(self, policy: FirewallPolicy, *, must_reach: Sequence[Endpoint]) -> None:
        await self.nftables.apply_firewall_policy(policy, must_reach=must_reach)
