"""A Linux timerfd on CLOCK_MONOTONIC (the clock of ``time.perf_counter``): a descriptor
that becomes readable at an absolute instant with nanosecond resolution.

Event loops (gevent's libev, asyncio's selector) hand epoll a timeout rounded up to whole
milliseconds, so a sleep wakes 0.1-1 ms late; a timerfd wakes the same epoll as an
ordinary readable descriptor, on time. The generator's dispatcher
(:mod:`meshbench.load.timer`) and the sample service's work time
(:mod:`meshbench.service.worktime`) wait on one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if os.name != "posix":
        return None
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    return libc if hasattr(libc, "timerfd_create") else None


_LIBC = _libc()


class TimerFd:
    """One timerfd; ``fd`` is -1 where there is none (not Linux): callers fall back to their
    loop's own sleep."""

    def __init__(self) -> None:
        self.fd = -1
        if _LIBC is not None:
            fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
            self.fd = fd if fd >= 0 else -1

    def arm_at(self, due_s: float) -> bool:
        """Become readable at ``due_s`` (perf_counter seconds); False if it cannot."""
        if self.fd < 0 or _LIBC is None:
            return False
        spec = _Itimerspec()
        sec = int(due_s)
        spec.it_value.tv_sec = sec
        spec.it_value.tv_nsec = max(1, int((due_s - sec) * 1e9))
        return bool(
            _LIBC.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) == 0
        )

    def consume(self) -> bool:
        """Read the expiry (True), or False if it has not fired (a spurious wake-up)."""
        try:
            os.read(self.fd, 8)
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
