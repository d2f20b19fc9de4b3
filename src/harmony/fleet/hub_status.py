"""``harmony fleet status`` at the hub of a fleet of sites: every site's link, and each rollout by site.

One read of the hub's view (``HubFleet.view``) feeds both: the sites (reachable, or unreachable since the last
time the hub stored anything from them) and, per deployment, the usual status (``aggregate``) with its
counts split by site, so a rollout waiting for a cut-off site shows which site and since when.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from harmony.fleet.sites import HubFleet, SiteRollout, SiteStatus, SitesView
from harmony.fleet.status import DeploymentStatus, aggregate


class SiteCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    targeted: int
    updated: int
    healthy: int
    failed: int
    offline: int


class HubDeploymentStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: DeploymentStatus
    site_waves: tuple[tuple[str, ...], ...]
    sites: dict[str, SiteCounts]
    """Per site with targets, in the order of the rollout's site waves."""


class HubStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    sites: tuple[SiteStatus, ...]
    deployments: tuple[HubDeploymentStatus, ...]


def by_site(rollout: SiteRollout, status: DeploymentStatus) -> dict[str, SiteCounts]:
    order = [s for wave in rollout.site_waves for s in wave]
    order += sorted({s for s in rollout.site_of.values()} - set(order))
    found: dict[str, SiteCounts] = {}
    for site in order:
        rows = [d for d in status.devices if rollout.site_of.get(d.device) == site]
        updated = [d for d in rows if d.version == status.version and d.phase in ("running", "failed", "rejected")]
        found[site] = SiteCounts(
            targeted=len(rows), updated=len(updated), healthy=sum(d.verdict == "healthy" for d in rows),
            failed=sum(d.phase in ("failed", "rejected") for d in updated),
            offline=sum(d.verdict == "offline" for d in rows),
        )  # fmt: skip
    return found


async def hub_status(fleet: HubFleet, deployments: list[str] | None = None) -> HubStatus:
    """The sites and the named rollouts (default: every rollout recorded at the hub), from one view."""
    view: SitesView = await fleet.view()
    sites = await fleet.site_status(view)
    rows: list[HubDeploymentStatus] = []
    for name in deployments if deployments is not None else await fleet.deployments():
        rollout, _ = await fleet.rollout(name)
        status = aggregate(rollout, view.states.get(name, {}), view.online())
        rows.append(HubDeploymentStatus(status=status, site_waves=rollout.site_waves, sites=by_site(rollout, status)))
    return HubStatus(sites=tuple(sites), deployments=tuple(rows))
