from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from pydantic import ValidationError

from harmony.domain.errors import InvalidValueError
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Host, Inventory
from harmony.infra.coalesce import Coalescer


async def test_reads_in_one_tick_are_one_batch_and_the_next_tick_another() -> None:
    batches: list[list[int]] = []

    async def fetch(keys: Sequence[int]) -> Mapping[int, int]:
        batches.append(list(keys))
        return {k: k * 10 for k in keys}

    c: Coalescer[int, int] = Coalescer(fetch)
    results = await asyncio.gather(c.get([1, 2]), c.get([2, 3]), c.get([4]))
    assert results == [{1: 10, 2: 20}, {2: 20, 3: 30}, {4: 40}]
    assert batches == [[1, 2, 3, 4]]
    assert await c.get([5]) == {5: 50}
    assert len(batches) == 2


async def test_reads_from_nested_gathers_join_the_same_batch() -> None:
    """A role's prerequisites gathered beside plans that gather their own reads: one batch, not one a level."""
    batches: list[list[int]] = []

    async def fetch(keys: Sequence[int]) -> Mapping[int, int]:
        batches.append(list(keys))
        return {k: k for k in keys}

    c: Coalescer[int, int] = Coalescer(fetch)

    async def nested(depth: int, key: int) -> object:
        if depth == 0:
            return await c.get([key])
        return await asyncio.gather(nested(depth - 1, key), nested(depth - 1, key + 100))

    await asyncio.gather(c.get([0]), nested(1, 1), nested(2, 2), nested(3, 3))
    assert len(batches) == 1, batches


async def test_a_failed_batch_fails_every_caller() -> None:
    async def fetch(keys: Sequence[int]) -> Mapping[int, int]:
        raise OSError("gone")

    c: Coalescer[int, int] = Coalescer(fetch)
    results = await asyncio.gather(c.get([1]), c.get([2]), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)


def test_inventory_selects_by_group_and_label_and_types_the_port() -> None:
    inv = Inventory.model_validate(
        {
            "hosts": [
                {"name": "a", "address": "10.0.0.1", "ssh_port": 2222, "groups": ["web"], "labels": {"site": "x"}},
                {"name": "b", "address": "10.0.0.1", "ssh_port": 22, "groups": ["db"]},
            ]
        }
    )
    assert [str(h.name) for h in inv.select(group="web")] == ["a"]
    assert [str(h.name) for h in inv.select(labels={"site": "x"})] == ["a"]
    assert inv.hosts[0].ssh_port == 2222
    with pytest.raises(ValidationError, match="ssh_port"):
        Host.model_validate({"name": "c", "address": "10.0.0.3", "ssh_port": 70000})
    with pytest.raises(ValidationError, match="host address and SSH port"):
        Inventory.model_validate(
            {"hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "address": "10.0.0.1"}]}
        )


def test_host_group_rejects_zero_parallelism_and_no_hosts() -> None:
    with pytest.raises(InvalidValueError, match="parallelism"):
        HostGroup(hosts=["h"], parallelism=0)
    with pytest.raises(InvalidValueError, match="hosts"):
        HostGroup[str](hosts=[])
