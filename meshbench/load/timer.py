"""Waking up on time inside gevent: a timerfd armed for the absolute due time.

``gevent.sleep`` hands libev a timeout that epoll rounds up to whole milliseconds, so a
sleeping dispatcher wakes 0.1-1 ms late (measured here). Busy-waiting the last stretch
fixes that but starves the I/O of the very connections it feeds. A timerfd
(:mod:`meshbench.host.timerfd`) wakes epoll as an ordinary readable descriptor, so the hub
keeps serving I/O until the exact moment and then switches to the dispatcher.

Falls back to ``gevent.sleep`` where timerfd is unavailable (not Linux).
"""

from __future__ import annotations

import time

import gevent

from meshbench.host.timerfd import TimerFd


class DueTimer:
    """Sleep until an absolute ``time.perf_counter()`` instant, with µs precision.

    ``perf_counter`` is CLOCK_MONOTONIC on Linux, the same clock the timerfd is armed on.
    """

    def __init__(self) -> None:
        self._timer = TimerFd()
        self.precise = self._timer.fd >= 0
        # one io watcher for the whole run: creating one per wait costs more than the wait
        self._watcher = gevent.get_hub().loop.io(self._timer.fd, 1) if self.precise else None

    def sleep_until(self, due_s: float) -> None:
        """Return at ``due_s`` (perf_counter seconds), letting other greenlets run meanwhile."""
        if due_s <= time.perf_counter():
            return
        if not self.precise or not self._timer.arm_at(due_s):
            gevent.sleep(due_s - time.perf_counter())
            return
        hub = gevent.get_hub()
        while True:
            hub.wait(self._watcher)
            if self._timer.consume():  # else a spurious wake-up
                return

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._timer.close()
