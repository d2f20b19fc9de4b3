"""``EdgeRouter``: a Linux box — local, a network namespace on this machine, or over SSH — that is a site's
network edge.

It provides ``NetworkEdge`` (``DnsServer``, ``DhcpServer``, ``BootServer``, ``LoadBalancer``,
``Firewall``) by composing three adapters, each keeping its files under ``state_dir`` on the box: dnsmasq
(DNS, DHCP, TFTP), HAProxy (load balancing) and nftables (firewall). Every adapter does its work through
the host's connector, so one implementation serves all three places:

    EdgeRouter.on(LinuxHost.ssh(...))                         # a router box over SSH
    EdgeRouter(name=..., state_dir=..., netns="router")       # a namespace on this machine

A plain ``LinuxHost`` is not a router: placing the edge Scores on it is a type error; ``EdgeRouter.on(host)``
declares the role. Before anything is configured, ``ensure_ready`` makes sure the Debian packages the role
needs are installed on the box (installing them through the host's packages capability), or fails naming
the missing package. Firewall probes run from ``management_netns`` (default: where Harmony runs), i.e.
from where the operator reaches the router; a firewall change that is not confirmed by those probes within
``firewall_rollback_after`` seconds (Harmony died, the SSH session was cut by the new ruleset) is rolled
back by the box itself.

The daemons are left running when a run ends (they are the deployment); ``stop()`` stops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.boot import BootFileName, BootScript
from harmony.domain.capabilities.dhcp import DhcpLease, DhcpSubnet
from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryImage, DiscoveryReport
from harmony.domain.capabilities.dns import DnsServer
from harmony.domain.capabilities.firewall import Endpoint, FirewallPolicy, FirewallState
from harmony.domain.capabilities.installation import InstallImage, InstallState
from harmony.domain.capabilities.load_balancer import LoadBalancer
from harmony.domain.topology import RunLock
from harmony.domain.values import IPv4Network, MacAddress
from harmony.infra.boot_image import DEFAULT_CACHE, BootImageError, BuiltImage, build_discovery_image
from harmony.infra.busybox_httpd import BusyboxHttpd
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.infra.install_image import BuiltInstallImage, InstallImageError, build_install_image
from harmony.infra.local_connector import LocalConnector
from harmony.infra.nftables import Nftables, tcp_probe
from harmony.infra.programs import DNSMASQ, HAPROXY, IP, NFT, SH, SOCAT
from harmony.infra.run_lock import LocalRunLock
from harmony.topology.forwarding import ForwardsDnsServer, ForwardsLoadBalancer
from harmony.topology.linux_host import LinuxHost
from harmony.topology.prerequisites import prepare_role

REQUIRED_PACKAGES = tuple(dict.fromkeys(p.package for p in (IP, DNSMASQ, HAPROXY, NFT, SOCAT)))
"""The Debian packages the router role needs on its box."""

DEFAULT_STATE_DIR = PurePosixPath("/var/lib/harmony/edge")


class EdgeRouter(ForwardsLoadBalancer, ForwardsDnsServer):
    """DNS, DHCP with network boot, load balancing and a firewall on one Linux box (or namespace)."""

    def __init__(
        self,
        *,
        name: str,
        state_dir: Path | PurePosixPath,
        netns: str | None = None,
        dns_port: int = 53,
        interfaces: Sequence[str] = (),
        management_netns: str | None = None,
        firewall_table: str = "harmony",
        firewall_rollback_after: float = 60.0,
        host: LinuxHost | None = None,
        image_cache: Path = DEFAULT_CACHE,
    ) -> None:
        """A router on ``host`` (default: this machine, inside ``netns`` when given). ``image_cache``: where
        the discovery image is built and kept, on this machine."""
        self._name = name
        self.state_dir = PurePosixPath(state_dir)
        self.host = host or LinuxHost(name=name, connector=LocalConnector(name=name, netns=netns))
        self.netns = self.host.connector.netns
        connector = self.host.connector
        self.dnsmasq = Dnsmasq(
            state_dir=self.state_dir / "dnsmasq", connector=connector, port=dns_port, interfaces=interfaces
        )
        self.haproxy = Haproxy(state_dir=self.state_dir / "haproxy", connector=connector)
        self.dns_port = dns_port
        self.discovery_http = BusyboxHttpd(
            state_dir=self.state_dir / "discovery", docroot=self.dnsmasq.boot_root, connector=connector
        )
        self.image_cache = image_cache
        self._images: dict[str, BuiltImage] = {}
        self._install_images: dict[str, BuiltInstallImage] = {}

        async def probe(endpoint: Endpoint) -> str | None:
            return await tcp_probe(endpoint, netns=management_netns)

        self.nftables = Nftables(
            state_dir=self.state_dir / "nftables",
            connector=connector,
            probe=probe,
            table=firewall_table,
            rollback_after=firewall_rollback_after,
        )

    @classmethod
    def on(
        cls,
        host: LinuxHost,
        *,
        state_dir: PurePosixPath = DEFAULT_STATE_DIR,
        dns_port: int = 53,
        interfaces: Sequence[str] = (),
        firewall_table: str = "harmony",
        firewall_rollback_after: float = 60.0,
    ) -> EdgeRouter:
        """``host`` becomes the site's router: its daemons, files and ruleset live there."""
        return cls(
            name=host.name,
            state_dir=state_dir,
            dns_port=dns_port,
            interfaces=interfaces,
            firewall_table=firewall_table,
            firewall_rollback_after=firewall_rollback_after,
            host=host,
        )

    @property
    def management_ports(self) -> tuple[int, ...]:
        """The SSH port Harmony reaches the router on, when it is managed over SSH."""
        return self.host.management_ports

    @property
    def served_ports(self) -> tuple[tuple[str, int], ...]:
        """What the router's own daemons answer on: DNS, DHCP and TFTP (dnsmasq), and its SSH daemon."""
        return (("udp", self.dns_port), ("tcp", self.dns_port), ("udp", 67), ("udp", 69), ("tcp", 22))

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
        await self.connect()
        await self.prepare()

    async def connect(self) -> None:
        await self.host.ensure_ready()

    async def prepare(self) -> bool:
        """The role's packages and state directory on the box (see ``prerequisites.prepare_role``)."""
        return await prepare_role(self.host, REQUIRED_PACKAGES, self.state_dir, role="a router", where=self._name)

    async def close(self) -> None:
        await self.host.close()

    def run_lock(self) -> RunLock:
        """Runs on this router take turns (the firewall's probe must see its own ruleset): on the box itself
        for a remote router, a lock file beside the adapters' state on this machine."""
        if isinstance(self.host.connector, LocalConnector):
            return LocalRunLock(Path(self.state_dir) / "run.lock", topology=self._name)
        return self.host.connector.run_lock()

    async def stop(self) -> None:
        """Stop the daemons (the configuration and the firewall ruleset stay)."""
        await self.dnsmasq.stop()
        await self.haproxy.stop()
        await self.discovery_http.stop()

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

    # MachineDiscovery
    async def discovery_image(self) -> DiscoveryImage:
        built = await build_discovery_image(self.image_cache)
        self._images[built.image.digest] = built
        return built.image

    async def served_discovery(self) -> DiscoveryEndpoint | None:
        return await self.discovery_http.served()

    async def serve_discovery(self, endpoint: DiscoveryEndpoint, image: DiscoveryImage) -> None:
        built = self._images.get(image.digest)
        if built is None:
            await self.discovery_image()
            built = self._images.get(image.digest)
        if built is None:
            raise BootImageError("serve", f"image {image.digest[:16]} is not the one this machine builds now")
        for name, path in ((image.kernel, built.kernel_path), (image.initrd, built.initrd_path)):
            await self.dnsmasq.put_boot_file(name, path.read_bytes())
        await self.discovery_http.serve(endpoint)

    async def discovery_reports(self) -> Sequence[DiscoveryReport]:
        return await self.discovery_http.reports()

    # MachineInstaller
    async def install_image(self) -> InstallImage:
        built = await build_install_image(self.image_cache)
        self._install_images[built.image.digest] = built
        return built.image

    async def install_image_served(self, image: InstallImage) -> bool:
        path = self.dnsmasq.boot_root / image.file
        state = (await self.host.connector.stat_files([path], with_content=False))[path]
        return state.kind == "file"

    async def serve_install_image(self, image: InstallImage) -> None:
        """Link (or copy) the cached image into the boot root: the router must be this machine (a namespace
        of it, or itself); uploading the image to a remote router is not supported yet."""
        built = self._install_images.get(image.digest)
        if built is None:
            await self.install_image()
            built = self._install_images.get(image.digest)
        if built is None:
            raise InstallImageError("serve", f"image {image.digest[:16]} is not the one this machine builds now")
        connector = self.host.connector
        if not isinstance(connector, LocalConnector) or connector.prefix is not None:
            raise InstallImageError(
                "serve",
                f"router {self._name} is not this machine: serve the install image from a router in a namespace "
                "of the Harmony host (uploading it to a remote router is not supported yet)",
            )
        if await self.install_image_served(image):
            return
        target = str(self.dnsmasq.boot_root / image.file)
        script = (
            'mkdir -p "$(dirname "$2")" && { ln -f "$1" "$2.part" 2>/dev/null || cp "$1" "$2.part"; }'
            ' && mv -f "$2.part" "$2"'
        )
        done = await connector.run_command([SH.name, "-c", script, "sh", str(built.path), target], timeout=600)
        if not done.ok:
            raise InstallImageError("serve", f"cannot place {built.path} at {target}: {done.stderr.strip()}")

    async def install_states(self) -> Sequence[InstallState]:
        return await self.discovery_http.install_states()

    async def request_install(self, mac: MacAddress, generation: int, *, reinstall: bool) -> None:
        await self.discovery_http.request_install(mac, generation, reinstall=reinstall)

    # Firewall
    async def firewall_state(self) -> FirewallState:
        return await self.nftables.firewall_state()

    async def apply_firewall_policy(self, policy: FirewallPolicy, *, must_reach: Sequence[Endpoint]) -> None:
        await self.nftables.apply_firewall_policy(policy, must_reach=must_reach)
