"""Scores that vary per host: built once per host when the deployment is built, validated per host, a bad
value naming its host; typed host variables; ``--filter`` across hosts. Hosts are sandboxed local hosts."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from pydantic import BaseModel

from harmony.cli.run import select_on_hosts
from harmony.domain.deployment import Deployment
from harmony.domain.errors import DeploymentError, InvalidValueError
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Host
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.units import FileMode
from harmony.domain.values import Hostname, Port, ip_address
from harmony.maestro.fanout import run_group
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost


def sandboxes(tmp_path: Path, count: int) -> list[LinuxHost]:
    return [LinuxHost.local(root=tmp_path / f"h{i}", name=f"h{i}", create_root=True) for i in range(count)]


def own_file(host: LinuxHost) -> list[Score[LinuxHost]]:
    return [ManagedFile(path=PurePosixPath(f"/{host.name}.conf"), content=f"name = {host.name}\n")]


def test_the_function_runs_once_per_host_when_the_deployment_is_built(tmp_path: Path) -> None:
    hosts = sandboxes(tmp_path, 3)
    calls: list[str] = []

    def scores(host: LinuxHost) -> list[Score[LinuxHost]]:
        calls.append(host.name)
        return own_file(host)

    deployment = HostGroup(hosts=hosts).deploy(scores)
    assert calls == ["h0", "h1", "h2"]
    assert deployment.varies_per_host
    assert [[s.name for s in scores] for _, scores in deployment.by_host()] == [
        ["file:/h0.conf"],
        ["file:/h1.conf"],
        ["file:/h2.conf"],
    ]
    assert deployment.scores_on(hosts[1])[0].name == "file:/h1.conf"
    with pytest.raises(DeploymentError, match="vary per host"):
        _ = deployment.scores
    with pytest.raises(DeploymentError, match="'stranger' is not a host of this deployment"):
        deployment.scores_on(LinuxHost.local(name="stranger"))


def test_a_list_is_the_same_on_every_host_and_a_function_on_one_topology_is_called_once(tmp_path: Path) -> None:
    hosts = sandboxes(tmp_path, 2)
    same = HostGroup(hosts=hosts).deploy([ManagedDirectory(path=PurePosixPath("/srv"))])
    assert not same.varies_per_host
    assert [s.name for s in same.scores] == ["directory:/srv"]
    assert [len(scores) for _, scores in same.by_host()] == [1, 1]
    single = Deployment(topology=hosts[0], scores=own_file)
    assert not single.varies_per_host
    assert [s.name for s in single.scores] == ["file:/h0.conf"]


def test_a_value_that_is_wrong_for_one_host_fails_the_build_naming_the_host(tmp_path: Path) -> None:
    hosts = sandboxes(tmp_path, 3)

    def scores(host: LinuxHost) -> list[Score[LinuxHost]]:
        mode = FileMode("0640" if host.name != "h2" else "0964")
        return [ManagedFile(path=PurePosixPath("/a"), content="", mode=mode)]

    with pytest.raises(DeploymentError, match=r"(?s)the Scores for host h2 cannot be built: .*mode.*0964") as caught:
        HostGroup(hosts=hosts).deploy(scores)
    assert not any((tmp_path / f"h{i}" / "a").exists() for i in range(3))
    assert caught.value.__cause__ is not None


def test_validation_names_the_host_whose_scores_collide(tmp_path: Path) -> None:
    hosts = sandboxes(tmp_path, 2)

    def scores(host: LinuxHost) -> list[Score[LinuxHost]]:
        twice = 2 if host.name == "h1" else 1
        return [ManagedFile(path=PurePosixPath("/same"), content=str(i)) for i in range(twice)]

    deployment = HostGroup(hosts=hosts).deploy(scores)
    with pytest.raises(
        DeploymentError, match=r"on host h1: .*test_per_host_scores\.py:85: two Scores are named 'file:/same'"
    ):
        deployment.validate()


async def test_each_host_gets_its_own_files(tmp_path: Path) -> None:
    hosts = sandboxes(tmp_path, 3)
    deployment = HostGroup(hosts=hosts).deploy(own_file)
    group = deployment.topology
    assert isinstance(group, HostGroup)
    first = await run_group(group, deployment.scores_on, mode="apply")
    assert [h.status for h in first.hosts] == [Status.SUCCESS] * 3
    for i in range(3):
        assert [p.name for p in (tmp_path / f"h{i}").iterdir()] == [f"h{i}.conf"]
        assert (tmp_path / f"h{i}" / f"h{i}.conf").read_text() == f"name = h{i}\n"
    second = await run_group(group, own_file, mode="apply")  # a plain function works as well
    assert [h.status for h in second.hosts] == [Status.NOOP] * 3


class AppVariables(BaseModel):
    app_user: str
    port: Port


def inventory_host(**variables: object) -> Host:
    return Host.model_validate({"name": Hostname("web-1"), "address": ip_address("10.0.0.1"), "variables": variables})


def test_host_variables_are_read_into_a_typed_model() -> None:
    host = inventory_host(app_user="shop", port=8080)
    variables = host.variables_as(AppVariables)
    assert variables == AppVariables(app_user="shop", port=Port(8080))
    linux = LinuxHost.from_inventory(host)
    assert linux.variables_as(AppVariables).port == 8080


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"app_user": "shop", "port": 70000}, r"host web-1: variable port: 70000 is not valid; expected .*65535"),
        ({"app_user": "shop", "port": "http"}, r"host web-1: variable port: 'http' is not valid"),
        (
            {"port": 80},
            r"host web-1: variable app_user: None is not valid; expected a value \(this host's variables are: port\)",
        ),
    ],
)
def test_a_wrong_or_missing_host_variable_is_named(variables: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        inventory_host(**variables).variables_as(AppVariables)


def test_a_host_not_from_an_inventory_has_no_variables() -> None:
    with pytest.raises(InvalidValueError, match=r"host local: variable app_user.*variables are: none"):
        LinuxHost.local(name="local").variables_as(AppVariables)


def test_a_filter_may_match_on_some_hosts_only_but_not_on_none() -> None:
    a = [ManagedFile(path=PurePosixPath("/a.conf")), ManagedDirectory(path=PurePosixPath("/srv"))]
    b = [ManagedDirectory(path=PurePosixPath("/srv"))]
    chosen = select_on_hosts([("a", a), ("b", b)], "*.conf")
    assert [(h, [s.name for s in scores]) for h, scores in chosen] == [("a", ["file:/a.conf"]), ("b", [])]
    with pytest.raises(
        DeploymentError, match=r"matches no Score on any host; the Scores are: file:/a\.conf, directory:/srv"
    ):
        select_on_hosts([("a", a), ("b", b)], "*.txt")
