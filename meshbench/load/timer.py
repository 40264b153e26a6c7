"""Waking up on time inside gevent: a timerfd armed for the absolute due time.

``gevent.sleep`` hands libev a timeout that epoll rounds up to whole milliseconds, so a
sleeping dispatcher wakes 0.1-1 ms late (measured here). Busy-waiting the last stretch
fixes that but starves the I/O of the very connections it feeds. A Linux timerfd has
nanosecond resolution and wakes epoll as an ordinary readable descriptor, so the hub
keeps serving I/O until the exact moment and then switches to the dispatcher.

Falls back to ``gevent.sleep`` where timerfd is unavailable (not Linux).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

import gevent

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    return libc if hasattr(libc, "timerfd_create") else None


class DueTimer:
    """Sleep until an absolute ``time.perf_counter()`` instant, with µs precision.

    ``perf_counter`` is CLOCK_MONOTONIC on Linux, the same clock the timerfd is armed on.
    """

    def __init__(self) -> None:
        self._libc = _libc() if os.name == "posix" else None
        self._fd = -1
        if self._libc is not None:
            fd = self._libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
            self._fd = fd if fd >= 0 else -1
        self.precise = self._fd >= 0
        # one io watcher for the whole run: creating one per wait costs more than the wait
        self._watcher = gevent.get_hub().loop.io(self._fd, 1) if self.precise else None

    def sleep_until(self, due_s: float) -> None:
        """Return at ``due_s`` (perf_counter seconds), letting other greenlets run meanwhile."""
        if due_s <= time.perf_counter():
            return
        if not self.precise or self._libc is None:
            gevent.sleep(due_s - time.perf_counter())
            return
        spec = _Itimerspec()
        sec = int(due_s)
        spec.it_value.tv_sec = sec
        spec.it_value.tv_nsec = max(1, int((due_s - sec) * 1e9))
        if self._libc.timerfd_settime(self._fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            gevent.sleep(due_s - time.perf_counter())
            return
        hub = gevent.get_hub()
        while True:
            hub.wait(self._watcher)
            try:
                os.read(self._fd, 8)
                return
            except BlockingIOError:  # spurious wake-up
                continue

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
