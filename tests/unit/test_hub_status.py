"""`harmony fleet status --hub`: a rollout's counts split by site, and the tables that show them (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from harmony.cli.fleet_hub import deployment_table, sites_table
from harmony.fleet.hub_status import HubDeploymentStatus, by_site
from harmony.fleet.records import DeploymentState
from harmony.fleet.rollout import Strategy
from harmony.fleet.sites import SiteRollout, SiteStatus
from harmony.fleet.status import aggregate


def rollout() -> SiteRollout:
    return SiteRollout(
        deployment="web", version="v2", desired="{}", selector={}, strategy=Strategy(),
        waves=(("n1", "n2"), ("s1",), ("r1",)), next_wave=2, site_waves=(("north",), ("south",), ("remote",)),
        site_of={"n1": "north", "n2": "north", "s1": "south", "r1": "remote"},
    )  # fmt: skip


def state(device: str, version: str, phase: str) -> DeploymentState:
    return DeploymentState.model_validate({"deployment": "web", "version": version, "phase": phase})


def test_counts_are_split_by_site_in_wave_order() -> None:
    r = rollout()
    states = {"n1": state("n1", "v2", "running"), "n2": state("n2", "v2", "failed"), "s1": state("s1", "v1", "running")}
    online = {"n1": True, "n2": True, "s1": True, "r1": False}
    counts = by_site(r, aggregate(r, states, online))
    assert list(counts) == ["north", "south", "remote"]
    north, south, remote = counts["north"], counts["south"], counts["remote"]
    assert (north.targeted, north.updated, north.healthy, north.failed, north.offline) == (2, 2, 1, 1, 0)
    assert (south.targeted, south.updated, south.healthy, south.failed) == (1, 0, 0, 0)
    assert (remote.targeted, remote.offline) == (1, 1)


def test_the_tables_show_each_site_its_link_and_its_wave() -> None:
    r = rollout()
    status = aggregate(r, {}, {"n1": True, "n2": True, "s1": True, "r1": False})
    console = Console(record=True, width=200)
    heard = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
    console.print(
        sites_table(
            [
                SiteStatus(site="north", reachable=True, last_heard=heard, devices=2, online=2),
                SiteStatus(site="remote", reachable=False, last_heard=heard, devices=1, online=0),
            ]
        )
    )
    console.print(
        deployment_table(HubDeploymentStatus(status=status, site_waves=r.site_waves, sites=by_site(r, status)))
    )
    text = console.export_text()
    assert "remote │ UNREACHABLE │ 2026-11-28 17:00:00" in text
    assert "north  │ reachable" in text
    assert "web v2 — running (wave 2/3)" in text
    rows = [line for line in text.splitlines() if line.startswith("│ south") or line.startswith("│ remote")]
    assert any("│ 2 " in row for row in rows if "south" in row), rows
