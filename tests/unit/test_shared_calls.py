"""``SharedCalls``: one run of the work for callers of the same key at once, cancelled with its last caller."""

from __future__ import annotations

import asyncio

import pytest

from harmony.infra.shared_calls import SharedCalls


class Work:
    """Work that counts its runs and waits until released; records whether it was cancelled."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()
        self.cancelled = False

    async def __call__(self) -> str:
        self.runs += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return f"result {self.runs}"


async def test_callers_at_once_share_one_run_and_a_later_call_runs_again() -> None:
    shared, work = SharedCalls[str, str](), Work()
    callers = [asyncio.ensure_future(shared.call("image", work)) for _ in range(3)]
    await asyncio.sleep(0)
    work.release.set()
    assert await asyncio.gather(*callers) == ["result 1"] * 3
    assert work.runs == 1
    assert await shared.call("image", work) == "result 2"  # the first run ended: nothing is cached


async def test_other_keys_run_on_their_own() -> None:
    shared, work = SharedCalls[str, str](), Work()
    work.release.set()
    assert sorted(await asyncio.gather(shared.call("a", work), shared.call("b", work))) == ["result 1", "result 2"]


async def test_every_caller_gets_the_failure_and_the_next_call_tries_again() -> None:
    shared, runs = SharedCalls[str, str](), [0]

    async def fails() -> str:
        runs[0] += 1
        await asyncio.sleep(0.01)
        raise LookupError("registry down")

    results = await asyncio.gather(shared.call("image", fails), shared.call("image", fails), return_exceptions=True)
    assert [str(r) for r in results] == ["registry down", "registry down"] and runs == [1]
    with pytest.raises(LookupError):
        await shared.call("image", fails)
    assert runs == [2]


async def test_a_cancelled_caller_leaves_the_work_to_the_others() -> None:
    shared, work = SharedCalls[str, str](), Work()
    leaving = asyncio.ensure_future(shared.call("image", work))
    staying = asyncio.ensure_future(shared.call("image", work))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert not work.cancelled
    work.release.set()
    assert await staying == "result 1" and work.runs == 1


async def test_the_last_caller_cancelled_cancels_the_work_before_it_returns() -> None:
    shared, work = SharedCalls[str, str](), Work()
    caller = asyncio.ensure_future(shared.call("image", work))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert work.cancelled  # already stopped when the cancelled caller is done: no work left running unseen
    work.release.set()
    assert await shared.call("image", work) == "result 2"  # a new run, not the cancelled one
