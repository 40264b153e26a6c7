"""Host state per trial: steal and busy share from /proc/stat counters, foreign load
from processes that are not meshbench's (a busy neighbour must be seen)."""

from __future__ import annotations

import math
import subprocess
import time

from meshbench.host import activity


def counters(user: int, idle: int, steal: int) -> tuple[int, ...]:
    # user nice system idle iowait irq softirq steal guest guest_nice
    return (user, 0, 0, idle, 0, 0, 0, steal, 0, 0)


def test_proc_stat_is_read_per_cpu() -> None:
    text = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\ncpu1 0 0 0 1 0 0 0 0 0 0\nintr 5"
    assert activity.cpu_counters(text) == {
        0: (1, 2, 3, 4, 5, 6, 7, 8, 0, 0),
        1: (0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    }


def test_steal_busy_and_foreign_load_between_samples() -> None:
    before = activity.HostSample(
        10.0, {0: counters(0, 0, 0), 1: counters(0, 0, 0)}, {"7 stress": 1.0, "8 idle-daemon": 5.0}
    )
    after = activity.HostSample(
        12.0,
        {0: counters(50, 40, 10), 1: counters(100, 100, 0)},
        {"7 stress": 2.6, "8 idle-daemon": 5.0, "9 newcomer": 0.2},
    )
    load = activity.load_between(before, after, [0, 1])
    assert load.steal_pct == 10.0  # the worse of the two CPUs
    assert load.busy_pct == (60.0 + 50.0) / 2
    assert math.isclose(load.foreign_cpu, (1.6 + 0.2) / 2)
    assert load.foreign_top[0] == ("7 stress", 0.8)
    assert load.note(5.0, 0.2).startswith("CPU steal 10% > 5%; foreign load 0.9 cores")
    assert load.note(20.0, 2.0) == ""
    only_1 = activity.load_between(before, after, [1])
    assert only_1.steal_pct == 0.0 and only_1.busy_pct == 50.0


def test_a_busy_process_outside_meshbench_is_foreign_load() -> None:
    """A busy loop reparented away from us (the shell that started it exits) is exactly
    what a second benchmark or a noisy neighbour looks like."""
    marker = "meshbench-test-neighbour"
    # `timeout` outlives the shell that started it and ends the loop itself after 3 s
    subprocess.run(
        ["sh", "-c", f"timeout 3 sh -c 'while :; do :; done' {marker} >/dev/null 2>&1 &"],
        check=True,
    )
    try:
        time.sleep(0.3)
        before = activity.sample()
        time.sleep(1.5)
        load = activity.load_between(before, activity.sample(), [0, 1])
        assert load.foreign_cpu > 0.3, load
        assert any(name.endswith(" sh") for name, _ in load.foreign_top), load
    finally:
        subprocess.run(["pkill", "-f", marker], check=False)


def test_our_own_children_are_not_foreign() -> None:
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"])  # killed below, no wrapper
    try:
        time.sleep(0.2)
        before = activity.sample()
        time.sleep(1.0)
        load = activity.load_between(before, activity.sample(), [0, 1])
        assert not any(name.startswith(f"{busy.pid} ") for name, _ in load.foreign_top), load
    finally:
        busy.kill()
        busy.wait()
