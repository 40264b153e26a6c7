"""The service's precise waits: never early, concurrent waits end in the order they are
due, a cancelled wait leaves nothing armed behind."""

from __future__ import annotations

import asyncio
import time

import pytest

from meshbench.service.worktime import WorkClock


def test_a_wait_never_ends_early_and_concurrent_ones_end_in_due_order() -> None:
    async def scenario() -> list[tuple[float, float]]:
        clock = WorkClock()
        done: list[tuple[float, float]] = []

        async def wait(s: float) -> None:
            start = time.perf_counter()
            await clock.sleep(s)
            done.append((s, time.perf_counter() - start))

        await asyncio.gather(*(wait(s) for s in (0.006, 0.002, 0.004, 0.0)))
        clock.close()
        return done

    done = asyncio.run(scenario())
    assert [s for s, _ in done] == [0.0, 0.002, 0.004, 0.006]
    assert all(took >= s for s, took in done), done


def test_timers_are_reused_and_a_cancelled_one_is_not() -> None:
    async def scenario() -> tuple[int, int]:
        clock = WorkClock()
        for _ in range(3):
            await clock.sleep(0.001)
        reused = len(clock._free)
        task = asyncio.create_task(clock.sleep(10))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        left = len(clock._free)
        clock.close()
        return reused, left

    # one timer served all three; the cancelled wait took it and closed it (it may be armed)
    assert asyncio.run(scenario()) == (1, 0)
