"""``--hub-credentials``: the hub commands reach a hub that requires authentication (a real hub of three
nats-servers and a site, with NKey users per tenant account), and name the option when the hub refuses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.score import score_adapter
from harmony.domain.values import Port
from harmony.fleet.tenants import TenantsHome
from harmony.infra.nats.accounts import new_user_seed
from harmony.modules.application.container import Container
from harmony.topology.sites import SiteSpec, SitesTopology, sites_spec
from tests.fixtures.ports import free_port
from tests.fixtures.sites import harmony, harmony_json

pytestmark = pytest.mark.slow


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[SitesTopology, TenantsHome]]:
    home = TenantsHome(tmp_path / "tenants")
    home.add_tenant("acme")
    home.add_device("acme", "dev-acme")
    spec = sites_spec(
        [(free_port(), free_port(), free_port()) for _ in range(3)], [SiteSpec(name="north", port=Port(free_port()))]
    )
    topology = SitesTopology(spec, tmp_path / "sites", accounts=home.plan())
    try:
        await topology.ensure_ready()
        yield topology, home
    finally:
        await topology.close()


async def test_hub_commands_take_credentials_and_name_the_option_when_refused(
    tmp_path: Path, secured: tuple[SitesTopology, TenantsHome]
) -> None:
    topology, home = secured
    hubs = [a for u in topology.spec.hub_urls for a in ("--hub", u)]
    operator = str(home.operator_seed("acme"))

    sites = await harmony_json("fleet", "sites", *hubs, "--hub-credentials", operator, "--json")
    assert [s["site"] for s in sites] == ["north"]
    status = await harmony_json("fleet", "status", *hubs, "--hub-credentials", operator, "--json")
    assert [s["site"] for s in status["sites"]] == ["north"] and status["deployments"] == []

    rc, out, err = await harmony("fleet", "sites", *hubs)
    assert rc != 0 and "--hub-credentials" in out + err and "requires authentication" in out + err, out + err
    assert "Traceback" not in out + err

    stranger = tmp_path / "stranger.nk"
    new_user_seed(stranger)  # a valid seed of a user no server knows
    rc, out, err = await harmony("fleet", "status", *hubs, "--hub-credentials", str(stranger))
    assert rc != 0 and "--hub-credentials" in out + err and "refused this one" in out + err, out + err

    not_a_seed = tmp_path / "identity.json"
    not_a_seed.write_text('{"user": "control", "password": "x"}')
    rc, out, err = await harmony("fleet", "sites", *hubs, "--hub-credentials", str(not_a_seed))
    assert rc != 0 and "an NKey user seed file" in out + err, out + err

    score = tmp_path / "work.json"
    work = ContainerSpec(name=ContainerName("work"), image=ImageRef("localhost/work:1"), command=("true",))
    score.write_bytes(score_adapter().dump_json(Container(spec=work)))
    rc, out, err = await harmony("fleet", "deploy", "work", str(score), *hubs)
    assert rc != 0 and "--hub-credentials" in out + err and "requires authentication" in out + err, out + err
