"""Units as types (sizes, durations, file modes) and the resources check: limits that do not fit on a host."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.deployment import Deployment
from harmony.domain.errors import InvalidValueError
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Host, HostResources, Inventory
from harmony.domain.units import Bytes, FileMode, GiB, KiB, MiB, format_size, parse_duration, parse_size
from harmony.infra.podman import run_argv
from harmony.modules.application import Container
from harmony.modules.postgres.server import shared_buffers_bytes
from harmony.topology.container_host import ContainerHost


@pytest.mark.parametrize(
    ("size", "expected"),
    [(KiB(1), 1024), (MiB(512), 512 * 2**20), (GiB(1.5), 3 * 2**29), (Bytes(4096), 4096)],
)
def test_sizes_are_bytes_written_in_their_unit(size: Bytes, expected: int) -> None:
    assert size == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("16GiB", 16 * 2**30), ("512 MiB", 512 * 2**20), ("1.5GiB", 3 * 2**29), (4096, 4096), ("300B", 300)],
)
def test_a_size_in_a_file_says_its_unit(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["16", "16GB", "16 gib", -1, "1.5B", True])
def test_a_size_without_a_binary_unit_is_refused(bad: object) -> None:
    with pytest.raises(InvalidValueError, match=r"size: .* expected a size with its unit"):
        parse_size(bad)


def test_sizes_print_in_the_largest_readable_unit() -> None:
    assert [format_size(v) for v in (300, MiB(512), GiB(1.5), GiB(4096))] == ["300 B", "512 MiB", "1.5 GiB", "4 TiB"]


@pytest.mark.parametrize(("digits", "bits"), [("0644", 0o644), ("750", 0o750), ("0o600", 0o600), ("4755", 0o4755)])
def test_a_file_mode_reads_its_digits_as_octal(digits: str, bits: int) -> None:
    assert FileMode(digits) == bits
    assert FileMode.from_bits(bits) == bits


@pytest.mark.parametrize("bad", ["0684", "64", "rw-r--r--", "", "07777 "])
def test_a_file_mode_that_is_not_octal_digits_is_refused(bad: str) -> None:
    with pytest.raises(InvalidValueError, match=r"mode: .* expected octal permission digits"):
        FileMode(bad)


def test_a_decimal_int_is_not_a_mode_outside_the_type_checker_either() -> None:
    with pytest.raises(InvalidValueError, match="mode"):
        FileMode(400)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # the mistake itself


def test_a_duration_is_a_timedelta_and_reads_the_wire_forms() -> None:
    assert parse_duration(timedelta(milliseconds=300)) == timedelta(milliseconds=300)
    assert parse_duration("1m30s") == timedelta(seconds=90)
    assert parse_duration(2) == timedelta(seconds=2)


def test_memory_limits_reach_podman_in_their_unit() -> None:
    def memory_arg(limit: Bytes) -> list[str]:
        spec = ContainerSpec(name=ContainerName("w"), image=ImageRef("w:1"), limits=ResourceLimits(memory=limit))
        return [a for a in run_argv(spec) if a.startswith("--memory")]

    assert memory_arg(MiB(512)) == ["--memory=512m"]
    assert memory_arg(Bytes(MiB(6) + 1)) == [f"--memory={MiB(6) + 1}b"]


def test_inventory_hosts_say_their_cpus_and_memory() -> None:
    inventory = Inventory.model_validate(
        {
            "hosts": [
                {"name": "db1", "address": "10.0.0.5", "cpus": 8, "memory": "32GiB"},
                {"name": "x", "address": "10.0.0.6"},
            ]
        }
    )
    db1, x = inventory.hosts
    assert db1.resources == HostResources(cpus=8, memory=GiB(32))
    assert x.resources is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("128MB", 128 * 2**20), ("2GB", 2 * 2**30), ("16384", 16384 * 8192), ("1 TB", 2**40), ("lots", None)],
)
def test_shared_buffers_read_as_postgresql_reads_them(value: str, expected: int | None) -> None:
    assert shared_buffers_bytes(value) == expected


def _worker(name: str, *, memory: Bytes | None = None, cpus: float | None = None) -> Container:
    limits = ResourceLimits(memory=memory, cpus=cpus)
    return Container(spec=ContainerSpec(name=ContainerName(name), image=ImageRef("localhost/w:1"), limits=limits))


def _box(tmp_path: Path, name: str, resources: HostResources | None) -> ContainerHost:
    return ContainerHost.isolated(tmp_path / name, dns_port=5353, name=name, resources=resources)


def test_limits_that_fill_the_host_exactly_fit(tmp_path: Path) -> None:
    box = _box(tmp_path, "box", HostResources(cpus=2, memory=GiB(1)))
    scores = [_worker("a", memory=MiB(512), cpus=1), _worker("b", memory=MiB(512), cpus=1), _worker("c")]
    assert Deployment(topology=box, scores=scores).findings() == []


def test_memory_over_the_host_names_the_host_the_scores_and_the_figures(tmp_path: Path) -> None:
    box = _box(tmp_path, "box", HostResources(memory=GiB(1)))
    found = Deployment(topology=box, scores=[_worker("a", memory=MiB(768)), _worker("b", memory=MiB(512))]).findings()
    assert [(f.rule, f.score, f.field) for f in found] == [("memory_exceeds_host", "container:b", "spec.limits")]
    assert "host box ask for 1.25 GiB of memory in all (container:a: 768 MiB, container:b: 512 MiB)" in found[0].message
    assert "more than its 1 GiB; expected at most 1 GiB" in found[0].message


def test_cpus_over_the_host_are_refused(tmp_path: Path) -> None:
    box = _box(tmp_path, "box", HostResources(cpus=2))
    found = Deployment(topology=box, scores=[_worker("a", cpus=1.5), _worker("b", cpus=1)]).findings()
    assert [f.rule for f in found] == ["cpus_exceed_host"]
    assert "ask for 2.5 CPUs in all" in found[0].message


def test_a_host_whose_resources_are_unknown_is_not_checked(tmp_path: Path) -> None:
    box = _box(tmp_path, "box", None)
    assert Deployment(topology=box, scores=[_worker("a", memory=GiB(512))]).findings() == []


def test_in_a_group_only_the_host_that_is_too_small_is_named(tmp_path: Path) -> None:
    big = _box(tmp_path, "big", HostResources(memory=GiB(4)))
    small = _box(tmp_path, "small", HostResources(memory=GiB(1)))
    found = HostGroup(hosts=[big, small]).deploy([_worker("a", memory=GiB(2))]).findings()
    assert [f.rule for f in found] == ["memory_exceeds_host"]
    assert "host small ask for 2 GiB of memory" in found[0].message


def test_inventory_resources_follow_the_host_into_its_topologies() -> None:
    from harmony.topology.linux_host import LinuxHost
    from harmony.topology.postgres_host import PostgreSQLHost

    host = Host.model_validate({"name": "db1", "address": "10.0.0.5", "cpus": 4, "memory": "8GiB"})
    linux = LinuxHost.from_inventory(host)
    assert linux.resources == HostResources(cpus=4, memory=GiB(8))
    assert ContainerHost.on(linux).resources == linux.resources
    assert PostgreSQLHost.on(linux, name="main").resources == linux.resources
