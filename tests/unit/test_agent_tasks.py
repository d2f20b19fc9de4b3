"""The agents' task supervisor: crashes are restarted and reported, one-shot tasks never pile up, stop is total."""

from __future__ import annotations

import asyncio

import pytest

from harmony.agent.tasks import Supervisor


class Bug(Exception):
    pass


async def test_a_crashing_task_is_restarted_with_backoff_and_reported() -> None:
    reported: list[tuple[str, str]] = []
    runs = 0
    third = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise Bug(f"run {runs}")
        third.set()
        await asyncio.Event().wait()

    tasks = Supervisor(owner="t", on_crash=lambda name, e: reported.append((name, str(e))), base_delay=0.01)
    tasks.start("flaky", flaky)
    await asyncio.wait_for(third.wait(), 10)
    assert reported == [("flaky", "run 1"), ("flaky", "run 2")]
    [health] = tasks.health()
    assert (health.state, health.crashes, health.last_error) == ("running", 2, "Bug: run 2")
    assert tasks.running == 1 and tasks.unhealthy() == []
    await tasks.stop_all()
    assert tasks.running == 0


async def test_a_final_crash_sets_failed_and_stop_all_reraises_it() -> None:
    async def broken() -> None:
        raise Bug("watchdog broke")

    tasks = Supervisor(owner="t")
    tasks.start("watchdog", broken, restart=False)
    await asyncio.wait_for(tasks.failed.wait(), 10)
    assert tasks.unhealthy() == ["watchdog"]
    with pytest.raises(Bug, match="watchdog broke"):
        await tasks.stop_all()


async def test_one_shot_tasks_replace_each_other_and_are_forgotten_when_done() -> None:
    tasks = Supervisor(owner="t")
    started: list[asyncio.Task[None]] = []
    for _ in range(50):
        started.append(tasks.start_once("resync", asyncio.sleep(10)))
        await asyncio.sleep(0)  # it runs before the next reconnect replaces it
    assert tasks.running == 1
    assert all(t.cancelled() for t in started[:-1])
    done = tasks.start_once("resync", asyncio.sleep(0))
    await done
    await asyncio.sleep(0)
    assert tasks.running == 0


async def test_a_one_shot_crash_is_reported_not_raised() -> None:
    reported: list[str] = []

    async def bad() -> None:
        raise Bug("resync bug")

    tasks = Supervisor(owner="t", on_crash=lambda name, _e: reported.append(name))
    await tasks.start_once("resync", bad())
    assert reported == ["resync"] and tasks.crashes == 1
    await tasks.stop_all()


async def test_a_broken_reporter_does_not_hide_the_crash() -> None:
    def reporter(_name: str, _e: BaseException) -> None:
        raise RuntimeError("metrics down")

    async def bad() -> None:
        raise Bug("x")

    tasks = Supervisor(owner="t", on_crash=reporter)
    await tasks.start_once("once", bad())
    assert tasks.crashes == 1
