"""Several generator processes sharing one schedule, merged into one result.

One Locust process drives one core; past that, N workers each take every N-th send of
the same schedule (same origin, see :mod:`meshbench.load.schedule`), each pinned to its
own CPU, and their histograms are added losslessly (:mod:`meshbench.load.merge`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from meshbench.errors import MeshbenchError
from meshbench.host import interrupts
from meshbench.load.merge import merge_worker_dirs
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.results.hlog import LogWriter

START_DELAY_S = 2.0
"""Time for every worker to start Python, import Locust and spawn its users."""

OVERRUN_GRACE_S = 20.0
"""How long past its own time bound (:meth:`LoadRequest.time_bound_s`, counted from the
planned start) a generator may still run before the harness stops it: a generator starved
of CPU or stopped cannot end by itself, and one trial must not stop the run."""

STOP_WAIT_S = 5.0
"""After SIGTERM, how long a stopped generator gets to write what it measured before
SIGKILL."""


def cpu_list(spec: str | None) -> list[str]:
    """``"0,2-3"`` -> ``["0", "2", "3"]`` (empty for None: no pinning)."""
    if not spec:
        return []
    out: list[str] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += [str(c) for c in range(int(lo), int(hi or lo) + 1)]
    return out


def generator_argv(
    req: LoadRequest, out_dir: Path, index: int = 0, count: int = 1, start_at: float | None = None
) -> list[str]:
    """The command line of one generator process."""
    argv = [
        sys.executable,
        "-m",
        "meshbench.load.generator",
        "--request-json",
        req.to_json(),
        "--out",
        str(out_dir),
        "--worker-index",
        str(index),
        "--worker-count",
        str(count),
    ]
    if start_at is not None:
        argv += ["--start-at", f"{start_at:.6f}"]
    return argv


def run_workers(
    req: LoadRequest,
    out_dir: Path,
    workers: int = 1,
    cpus: str | None = None,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    start_at: float | None = None,
    overrun_grace_s: float | None = None,
) -> LoadSummary:
    """Run ``workers`` generator processes (each behind ``prefix``, e.g. ``ip netns exec``;
    with ``env`` as their environment when given).

    ``start_at``: the schedule origin every worker takes (epoch s, at least
    :data:`START_DELAY_S` ahead, so a caller knows when the measured phase begins);
    default: that far ahead when several workers share the schedule, else none (the
    generator starts as soon as it is ready).

    Each worker is pinned to the next CPU of ``cpus`` in turn. One worker writes straight
    into ``out_dir``; several write into ``out_dir/worker-<i>`` and are merged into it.

    A worker still running ``overrun_grace_s`` (default :data:`OVERRUN_GRACE_S`) past its
    own time bound is stopped (:func:`_stop`); its summary then says ``stopped_by:
    killed``, which makes the load invalid, and whatever it measured is kept.
    """
    grace_s = OVERRUN_GRACE_S if overrun_grace_s is None else overrun_grace_s
    out_dir.mkdir(parents=True, exist_ok=True)
    pins = cpu_list(cpus)
    if start_at is None and workers > 1:
        start_at = time.time() + START_DELAY_S
    launched = time.time()
    start_s = START_DELAY_S if start_at is None else max(0.0, start_at - launched)
    deadline = time.monotonic() + start_s + req.time_bound_s() + grace_s
    procs = []
    killed: list[Path] = []
    dirs = [out_dir] if workers == 1 else [out_dir / f"worker-{i}" for i in range(workers)]
    try:
        for i, d in enumerate(dirs):
            d.mkdir(parents=True, exist_ok=True)
            pin = ["taskset", "-c", pins[i % len(pins)]] if pins else []
            argv = [*prefix, *pin, *generator_argv(req, d, i, workers, start_at)]
            log = (d / "generator.log").open("w")
            with interrupts.deferred():  # started => in procs, so the finally stops it
                popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
                procs.append((popen, log, d))
        for p, log, d in procs:
            try:
                rc = p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _stop(p)
                killed.append(d)
                continue
            finally:
                log.close()
            if rc != 0:
                lines = (d / "generator.log").read_text(errors="replace").strip().splitlines()
                raise MeshbenchError(
                    f"load generator failed (exit {rc}): {lines[-1] if lines else 'no output'}",
                    fix=f"see {d / 'generator.log'}",
                )
    finally:
        for p, _, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for d in killed:
        _keep_what_was_measured(d, launched, grace_s)
    if workers == 1:
        return LoadSummary.read(out_dir)
    return merge_worker_dirs(dirs, out_dir)


def _stop(p: subprocess.Popen[bytes]) -> None:
    """Stop an overrunning generator: SIGTERM (with SIGCONT, in case it was stopped), so it
    writes what it measured; SIGKILL after :data:`STOP_WAIT_S` if it cannot."""
    p.terminate()
    with contextlib.suppress(ProcessLookupError):
        os.kill(p.pid, signal.SIGCONT)
    try:
        p.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def _keep_what_was_measured(d: Path, launched_epoch_s: float, grace_s: float) -> None:
    """A stopped worker's summary (what it wrote on SIGTERM, else nothing measured) marked
    ``killed``, and its histogram log (an empty one if it wrote none), so the trial is
    stored invalid with the cause like any other."""
    started = datetime.fromtimestamp(launched_epoch_s, UTC).isoformat(timespec="seconds")
    try:
        summary = LoadSummary.read(d)
    except (OSError, ValueError, TypeError):
        summary = LoadSummary.nothing(started)
    if not (d / HLOG_FILE).exists():
        with (d / HLOG_FILE).open("w") as f:
            LogWriter(f, launched_epoch_s, "meshbench load: killed before it wrote its log")
    replace(summary, stopped_by="killed", killed_after_s=grace_s).write(d)
