"""The sample service's waits (work time, chunk intervals), on time to the microsecond.

``asyncio.sleep`` is woken by epoll with a timeout rounded up to whole milliseconds, so a
5 ms work time lasted 5-6 ms; a known work time must show up as itself wherever it is
measured (attribution's known-answer tests rest on it). Each wait arms a timerfd
(:mod:`meshbench.host.timerfd`) and waits for it to become readable on the running loop; the
timers are reused. Falls back to ``asyncio.sleep`` where there is no timerfd.
"""

from __future__ import annotations

import asyncio
import time

from meshbench.host.timerfd import TimerFd


class WorkClock:
    """Precise sleeps for one service (its concurrent requests each get a timer)."""

    def __init__(self) -> None:
        self._free: list[TimerFd] = []

    async def sleep(self, seconds: float) -> None:
        """Return ``seconds`` from now (at once for 0 or less)."""
        if seconds <= 0:
            return
        due = time.perf_counter() + seconds
        timer = self._free.pop() if self._free else TimerFd()
        if not timer.arm_at(due):
            timer.close()
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            return
        loop = asyncio.get_running_loop()
        try:
            while True:
                fired: asyncio.Future[None] = loop.create_future()
                loop.add_reader(timer.fd, _set, fired)
                try:
                    await fired
                finally:
                    loop.remove_reader(timer.fd)
                if timer.consume():  # else a spurious wake-up
                    break
        except BaseException:  # cancelled: the timer may still be armed
            timer.close()
            raise
        self._free.append(timer)

    def close(self) -> None:
        for t in self._free:
            t.close()
        self._free.clear()


def _set(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
