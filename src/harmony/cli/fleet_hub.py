"""``harmony fleet status --hub`` and ``harmony fleet deploy --hub``: a fleet of sites, from its hub.

The site list is what the hub keeps a view of (its ``VIEW_<site>`` streams), in name order; rollouts go in
waves of whole sites (``--canary-site`` alone first, then ``--sites-per-wave`` sites at a time) with the fleet's
automatic halt: a canary site whose devices fail the workload's health check halts the rollout, and the other
sites never receive it.

A hub that requires authentication is reached with ``--hub-credentials``: the NKey seed file of one of its
users; a hub that refuses the connection is named with the option to pass, not retried.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import nkeys  # pyright: ignore[reportMissingTypeStubs]  # nkeys ships no stubs; only its error class is used
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from harmony.domain.errors import InvalidValueError, KeyValueAuthError
from harmony.domain.score import AnyScore
from harmony.fleet.hub_status import HubDeploymentStatus, HubStatus, hub_status
from harmony.fleet.sites import HubFleet, SiteRollout, SiteStatus, SiteStrategy
from harmony.fleet.status import DeploymentStatus
from harmony.infra.nats.accounts import public_key
from harmony.infra.nats.sites import JetStreamLink

console = Console()


def sites_table(rows: Sequence[SiteStatus]) -> Table:
    table = Table("site", "link", "last heard (UTC)", "devices", "online", title="sites", title_justify="left")
    for r in rows:
        link = "reachable" if r.reachable else "UNREACHABLE"
        heard = r.last_heard.strftime("%Y-%m-%d %H:%M:%S") if r.last_heard else "never"
        table.add_row(r.site, link, heard, str(r.devices), str(r.online))
    return table


def site_json(row: SiteStatus) -> dict[str, object]:
    since = row.unreachable_since
    return {**row.model_dump(mode="json"), "unreachable_since": since.isoformat() if since else None}


def deployment_table(d: HubDeploymentStatus) -> Table:
    s = d.status
    title = (
        f"{s.deployment} {s.version} — {s.phase} (wave {s.wave}/{s.waves}) — targeted {s.targeted}, updated "
        f"{s.updated}, healthy {s.healthy}, failed {s.failed}, offline {s.offline}"
    )
    if s.reason:
        title += f" — {s.reason}"
    waves = {site: n for n, wave in enumerate(d.site_waves, 1) for site in wave}
    table = Table("site", "wave", "targeted", "updated", "healthy", "failed", "offline", title=title)
    table.title_justify = "left"
    for site, c in d.sites.items():
        counts = (c.targeted, c.updated, c.healthy, c.failed, c.offline)
        table.add_row(site, str(waves.get(site, "")), *(str(n) for n in counts))
    return table


def status_json(status: HubStatus) -> str:
    return json.dumps(
        {
            "sites": [site_json(s) for s in status.sites],
            "deployments": [
                {**d.status.model_dump(mode="json"), "site_waves": d.site_waves,
                 "sites": {k: v.model_dump(mode="json") for k, v in d.sites.items()}}
                for d in status.deployments
            ],
        }
    )  # fmt: skip


def hub_seed(credentials: Path) -> Path:
    """``--hub-credentials``, checked before connecting: a readable NKey user seed file."""
    try:
        public_key(credentials)
    except OSError as e:
        raise InvalidValueError("--hub-credentials", str(credentials), f"a readable file ({e.strerror})") from e
    except (nkeys.NkeysError, ValueError) as e:
        raise InvalidValueError(
            "--hub-credentials", str(credentials), f"an NKey user seed file, e.g. a tenant's operator.nk ({e})"
        ) from e
    return credentials


async def open_hub(
    urls: Sequence[str], *, name: str, offline_after: float, credentials: Path | None = None
) -> HubFleet:
    seed = hub_seed(credentials) if credentials is not None else None
    try:
        link = await JetStreamLink.connect(urls, name=name, nkey_seed=seed)
    except KeyValueAuthError as e:
        if credentials is None:
            raise InvalidValueError(
                "--hub-credentials", None, f"the credentials of a user of this hub: it requires authentication ({e})"
            ) from e
        raise InvalidValueError(
            "--hub-credentials", str(credentials), f"the seed of a user this hub knows: it refused this one ({e})"
        ) from e
    try:
        sites = await link.viewed_sites()
        if not sites:
            raise InvalidValueError("--hub", ", ".join(urls), "a hub with sites (it keeps no VIEW_<site> stream)")
        return await HubFleet.open(link, sites, offline_after=offline_after)
    except BaseException:
        await link.close()
        raise


async def show_status(
    urls: Sequence[str], deployment: str | None, *, as_json: bool, watch: bool, offline_after: float,
    credentials: Path | None = None,
) -> None:  # fmt: skip
    fleet = await open_hub(urls, name="harmony-fleet-status", offline_after=offline_after, credentials=credentials)
    try:
        names = [deployment] if deployment else None
        if watch and not as_json:
            with Live(console=console, refresh_per_second=2) as live:
                while True:
                    live.update(_render(await hub_status(fleet, names)))
                    await asyncio.sleep(1)
        status = await hub_status(fleet, names)
        if as_json:
            print(status_json(status))
        else:
            console.print(_render(status))
    finally:
        await fleet.hub.close()


def _render(status: HubStatus) -> Group:
    return Group(sites_table(status.sites), *(deployment_table(d) for d in status.deployments))


async def deploy_by_site(
    urls: Sequence[str], deployment: str, score: AnyScore, *, selector: dict[str, str], strategy: SiteStrategy,
    as_json: bool, offline_after: float, credentials: Path | None = None,
) -> None:  # fmt: skip
    """Record the rollout at the hub and drive it here until done or halted (exit status 1 when halted)."""
    fleet = await open_hub(urls, name="harmony-fleet-deploy", offline_after=offline_after, credentials=credentials)
    try:
        rollout = await fleet.deploy(deployment, score, selector=selector, strategy=strategy)
        if not as_json:
            waves = " then ".join("+".join(w) for w in rollout.site_waves)
            first = f"{deployment} version {rollout.version}: waves by site {waves}"
            console.print(first, markup=False, highlight=False)
        final = await follow(fleet, deployment, as_json=as_json)
    finally:
        await fleet.hub.close()
    if final.phase in ("halted", "aborted"):
        raise typer.Exit(1)


async def set_phase(
    urls: Sequence[str], deployment: str, action: str, *, offline_after: float, credentials: Path | None = None
) -> None:
    """``pause``, ``resume`` or ``abort`` a rollout at the hub; ``resume`` then drives it here like ``deploy``."""
    fleet = await open_hub(urls, name=f"harmony-fleet-{action}", offline_after=offline_after, credentials=credentials)
    try:
        actions = {"pause": fleet.pause, "resume": fleet.resume, "abort": fleet.abort}
        rollout = await actions[action](deployment)
        console.print(f"{deployment}: {rollout.phase}", markup=False, highlight=False)
        final = await follow(fleet, deployment, as_json=False) if action == "resume" else rollout
    finally:
        await fleet.hub.close()
    if action == "resume" and final.phase in ("halted", "aborted"):
        raise typer.Exit(1)


async def follow(fleet: HubFleet, deployment: str, *, as_json: bool) -> SiteRollout:
    """Drive the rollout until done, halted, paused or aborted, saying each change; the final record."""
    said: list[str] = [""]

    def progress(_status: DeploymentStatus, why: str) -> None:
        if not as_json and why and why != said[-1]:  # drive reports every poll: say each change once
            said.append(why)
            console.print(f"  {why}", markup=False, highlight=False)

    final = await fleet.drive(deployment, on_progress=progress)
    status = (await hub_status(fleet, [deployment])).deployments[0]
    if as_json:
        print(status_json(HubStatus(sites=(), deployments=(status,))))
    else:
        console.print(deployment_table(status))
        console.print(f"\nrollout {final.phase}: {final.reason}", markup=False, highlight=False)
    return final
