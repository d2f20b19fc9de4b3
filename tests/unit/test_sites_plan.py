"""Sites as data: the spec's validation, the generated server configurations and waves by site (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmony.domain.errors import InvalidValueError
from harmony.domain.values import Port
from harmony.fleet.sites import SiteDevice, SiteStrategy, plan_site_waves
from harmony.infra.nats.cluster import LeafRemote, hub_config, leaf_config
from harmony.topology.sites import SiteSpec, sites_spec

HUB = [(4222, 6222, 7422), (4223, 6223, 7423), (4224, 6224, 7424)]


def site(name: str, port: int = 5000) -> SiteSpec:
    return SiteSpec(name=name, port=Port(port))


def test_a_spec_has_three_hub_servers_and_distinct_site_names() -> None:
    spec = sites_spec(HUB, [site("north"), site("south", 5001)])
    assert spec.hub_urls == ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"]
    assert spec.site_url("south") == "nats://127.0.0.1:5001"
    with pytest.raises(InvalidValueError, match="exactly three hub servers"):
        sites_spec(HUB[:2], [site("north")])
    with pytest.raises(ValueError, match="each site name once"):
        sites_spec(HUB, [site("north"), site("north", 5001)])
    with pytest.raises(ValueError, match="other than 'hub'"):
        sites_spec(HUB, [site("hub")])
    with pytest.raises(ValueError, match="name"):
        site("North.1")  # a domain and a subject token: lower case, no dots
    with pytest.raises(InvalidValueError, match="one of north"):
        sites_spec(HUB, [site("north")]).site("nowhere")


def test_the_hub_config_clusters_in_one_domain_and_listens_for_leaf_nodes(tmp_path: Path) -> None:
    text = hub_config(
        name="hub0", store_dir=tmp_path, domain="hub", host="127.0.0.1", port=4222, cluster_name="hub",
        cluster_port=6222, route_ports=[6223, 6224], leaf_host="127.0.0.1", leaf_port=7422,
    )  # fmt: skip
    assert 'domain: "hub"' in text
    assert 'routes: ["nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"]' in text
    assert 'leafnodes { listen: "127.0.0.1:7422" }' in text


def test_a_leaf_config_has_its_own_domain_and_keeps_kv_subjects_at_the_site(tmp_path: Path) -> None:
    remote = LeafRemote(("nats-leaf://10.0.0.1:7422", "nats-leaf://10.0.0.1:7423"), account="T_acme")
    text = leaf_config(
        name="site-north", store_dir=tmp_path, domain="north", host="127.0.0.1", port=5000, remotes=[remote]
    )
    assert 'domain: "north"' in text
    assert '"nats-leaf://10.0.0.1:7422", "nats-leaf://10.0.0.1:7423"' in text
    assert 'account: "T_acme"' in text
    assert 'deny_imports: ["$KV.>"], deny_exports: ["$KV.>"]' in text


def devices(*pairs: tuple[str, str]) -> list[SiteDevice]:
    return [SiteDevice(device=d, site=s) for d, s in pairs]


@pytest.mark.parametrize(
    ("strategy", "waves", "site_waves"),
    [
        (SiteStrategy(), (("a1", "a2"), ("b1",), ("c1",)), (("a",), ("b",), ("c",))),
        (SiteStrategy(canary="b"), (("b1",), ("a1", "a2"), ("c1",)), (("b",), ("a",), ("c",))),
        (SiteStrategy(canary="c", sites_per_wave=2), (("c1",), ("a1", "a2", "b1")), (("c",), ("a", "b"))),
        (SiteStrategy(sites_per_wave=5), (("a1", "a2", "b1", "c1"),), (("a", "b", "c"),)),
    ],
)
def test_waves_by_site_put_the_canary_site_first(
    strategy: SiteStrategy, waves: tuple[tuple[str, ...], ...], site_waves: tuple[tuple[str, ...], ...]
) -> None:
    targets = devices(("a2", "a"), ("a1", "a"), ("b1", "b"), ("c1", "c"))
    assert plan_site_waves(targets, strategy, order=["a", "b", "c", "d"]) == (waves, site_waves)


def test_a_canary_site_without_targets_is_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"canary: 'd'.*a site with targeted devices: a"):
        plan_site_waves(devices(("a1", "a")), SiteStrategy(canary="d"), order=["a", "d"])
