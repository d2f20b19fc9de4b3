"""Many sites as one typed topology: a hub cluster of nats-servers and a leaf node per site.

``SitesSpec`` says what exists (typed, validated before anything starts): the hub's three servers and their
ports, and each site's name (also its JetStream domain), where its leaf node listens and, for a site in a
network namespace, that namespace and the hub's address as seen from it. ``SitesTopology.ensure_ready``
writes every server's configuration, starts the hub, then the sites, and sets up the streams that carry
desired state down to each site and device state up to the hub (``harmony.infra.nats.sites``).

Each site's JetStream domain holds that site's desired state (``fleet_desired``, fed from the hub), device
state, heartbeats and info, and whatever else runs at the site (e.g. the failover agent's bucket): devices and
agents at the site connect to its leaf node only, so all of it works with the hub gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError, TopologyError
from harmony.domain.values import Port
from harmony.infra.nats.accounts import AccountsPlan
from harmony.infra.nats.cluster import LeafRemote, NatsProcess, hub_config, leaf_config
from harmony.infra.nats.sites import JetStreamLink

HUB_DOMAIN = "hub"
SITE_FED = "fleet_desired"
SITE_FED_LIVE = "fleet.desired"  # where the site's fed bucket republishes (the fleet's DESIRED_LIVE)
SITE_LOCAL = ("fleet_state", "fleet_info", "fleet_heartbeat")
SITE_VIEWED = ("fleet_state", "fleet_heartbeat", "fleet_info")


class HubServer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    client_port: Port
    cluster_port: Port
    leaf_port: Port


class SiteSpec(BaseModel):
    """One site: ``name`` is also its JetStream domain; its leaf node listens on ``host:port``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$", description="lower-case token, also the JetStream domain")
    port: Port
    host: str = "127.0.0.1"
    netns: str | None = None
    hub_address: str = Field(default="127.0.0.1", description="the hub's address as the site reaches it")


class SitesSpec(BaseModel):
    """The hub (exactly three servers: a JetStream cluster that survives one loss) and the sites."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hub: tuple[HubServer, HubServer, HubServer]
    sites: tuple[SiteSpec, ...]
    hub_leaf_host: str = Field(default="127.0.0.1", description="where the hub listens for leaf nodes")

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        names = [s.name for s in self.sites]
        for name in names:
            if names.count(name) > 1:
                raise InvalidValueError("sites", name, "each site name once (it is the site's JetStream domain)")
            if name == HUB_DOMAIN:
                raise InvalidValueError("sites", name, f"a site name other than {HUB_DOMAIN!r} (the hub's domain)")
        return self

    def site(self, name: str) -> SiteSpec:
        for site in self.sites:
            if site.name == name:
                return site
        raise InvalidValueError("site", name, f"one of {', '.join(s.name for s in self.sites)}")

    @property
    def hub_urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{s.client_port}" for s in self.hub]

    def site_url(self, name: str) -> str:
        site = self.site(name)
        return f"nats://{site.host}:{site.port}"


@dataclass
class SitesTopology:
    """The running hub and sites described by ``spec``; state under ``state_dir``."""

    spec: SitesSpec
    state_dir: Path
    accounts: AccountsPlan | None = None
    """Tenants as accounts (``harmony.infra.nats.accounts``); None: one global account, no authentication."""
    hub: list[NatsProcess] = field(default_factory=list[NatsProcess])
    sites: dict[str, NatsProcess] = field(default_factory=dict[str, NatsProcess])

    @property
    def name(self) -> str:
        return f"sites({', '.join(s.name for s in self.spec.sites)})"

    def hub_process(self, index: int) -> NatsProcess:
        servers = self.spec.hub
        me = servers[index]
        config = hub_config(
            name=f"hub{index}", store_dir=self.state_dir / f"hub{index}" / "js", domain=HUB_DOMAIN,
            host="127.0.0.1", port=me.client_port, cluster_name="hub", cluster_port=me.cluster_port,
            route_ports=[s.cluster_port for j, s in enumerate(servers) if j != index],
            leaf_host=self.spec.hub_leaf_host, leaf_port=me.leaf_port,
            accounts=self.accounts.hub_block() if self.accounts else "",
        )  # fmt: skip
        return NatsProcess(f"hub{index}", self.state_dir / f"hub{index}" / "store", config)

    def site_process(self, site: SiteSpec) -> NatsProcess:
        urls = tuple(f"nats-leaf://{site.hub_address}:{s.leaf_port}" for s in self.spec.hub)
        remotes = (
            [LeafRemote(urls, account=t.name, nkey_seed=t.leaf_seed) for t in self.accounts.tenants]
            if self.accounts
            else [LeafRemote(urls)]
        )
        config = leaf_config(
            name=f"site-{site.name}", store_dir=self.state_dir / f"site-{site.name}" / "js", domain=site.name,
            host=site.host, port=site.port, remotes=remotes,
            accounts=self.accounts.site_block() if self.accounts else "",
        )  # fmt: skip
        return NatsProcess(f"site-{site.name}", self.state_dir / f"site-{site.name}" / "store", config, site.netns)

    async def ensure_ready(self) -> None:
        """Start the hub cluster, then every site, and set up each site's streams at both ends."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.hub:
            self.hub = [self.hub_process(i) for i in range(len(self.spec.hub))]
            for server in self.hub:
                await server.start()
        for site in self.spec.sites:
            if site.name not in self.sites:
                process = self.site_process(site)
                await process.start()
                self.sites[site.name] = process
        seeds: list[Path | None] = [t.operator_seed for t in self.accounts.tenants] if self.accounts else [None]
        for seed in seeds:  # each tenant's streams, set up by its operator inside its own account
            hub = await self.connect_hub(nkey_seed=seed)
            try:
                if not await hub.wait_for_jetstream():
                    raise TopologyError(self.name, "the hub cluster elected no JetStream leader; see its servers' logs")
                for site in self.spec.sites:
                    await hub.ensure_hub_site(site=site.name, domain=site.name, viewed=SITE_VIEWED, replicas=3)
            finally:
                await hub.close()
            for site in self.spec.sites:
                link = await self.connect_site(site.name, nkey_seed=seed)
                try:
                    await link.ensure_site_buckets(
                        site=site.name, hub_domain=HUB_DOMAIN, fed=SITE_FED, local=SITE_LOCAL, republish=SITE_FED_LIVE
                    )
                finally:
                    await link.close()

    async def reconfigure(self, accounts: AccountsPlan) -> None:
        """New accounts or users (a device added or revoked): rewrite every configuration, reload in place."""
        self.accounts = accounts
        for index, server in enumerate(self.hub):
            await server.reload(self.hub_process(index).config)
        for site in self.spec.sites:
            if site.name in self.sites:
                await self.sites[site.name].reload(self.site_process(site).config)

    async def connect_hub(
        self, *, name: str = "harmony-hub", nkey_seed: Path | None = None, timeout: float = 2.0
    ) -> JetStreamLink:
        return await JetStreamLink.connect(self.spec.hub_urls, name=name, nkey_seed=nkey_seed, timeout=timeout)

    async def connect_site(
        self, site: str, *, name: str = "harmony-site", nkey_seed: Path | None = None, timeout: float = 2.0
    ) -> JetStreamLink:
        return await JetStreamLink.connect([self.spec.site_url(site)], name=name, nkey_seed=nkey_seed, timeout=timeout)

    async def stop_site(self, site: str) -> None:
        process = self.sites.pop(site, None)
        if process is not None:
            await process.stop()

    async def close(self) -> None:
        for process in [*self.sites.values(), *self.hub]:
            await process.stop()
        self.sites.clear()
        self.hub.clear()


def sites_spec(
    hub_ports: Sequence[tuple[int, int, int]], sites: Sequence[SiteSpec], *, hub_leaf_host: str = "127.0.0.1"
) -> SitesSpec:
    """A spec from plain port triples (client, cluster, leaf) for the three hub servers."""
    servers = [HubServer(client_port=Port(c), cluster_port=Port(r), leaf_port=Port(leaf)) for c, r, leaf in hub_ports]
    if len(servers) != 3:
        raise InvalidValueError("hub", len(servers), "exactly three hub servers")
    return SitesSpec(hub=(servers[0], servers[1], servers[2]), sites=tuple(sites), hub_leaf_host=hub_leaf_host)
