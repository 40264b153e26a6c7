"""Open-loop load with Locust's FastHttpUser, corrected for coordinated omission.

A dispatcher greenlet releases *intended* send times on schedule into a queue; a pool of
FastHttpUsers (one connection each) takes them as soon as one is free. Latency is measured
from the intended time, so a stalled server or a busy pool shows up in the tail instead of
silently delaying the next send (the wrk2 correction). Send lag (actual - intended) and
service time (response end - actual send) are recorded beside it.

Bounded: at most ``LoadRequest.request_bound()`` requests and at most warm-up + duration +
timeout + a grace period of wall time; then it stops by itself.

Run it as ``python -m meshbench.load.generator --request-json JSON --out DIR``; it writes
``summary.json``, ``latency.hlog`` and ``locust_stats.json`` into DIR.
"""

from __future__ import annotations

# isort: off
# Locust monkey-patches the standard library with gevent on import: import it first.
import locust

# isort: on
import argparse
import gc
import itertools
import json
import os
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import gevent
from gevent.queue import Queue
from locust import FastHttpUser, User, events, task
from locust.env import Environment

from meshbench.config.protocols import Protocol
from meshbench.load import clients
from meshbench.load.recorder import Recorder
from meshbench.load.schedule import send_offsets
from meshbench.load.spec import (
    HLOG_FILE,
    LOCUST_STATS_FILE,
    READY_MARK,
    REQUEST_ID_HEADER,
    LoadRequest,
    LoadSummary,
    request_id,
)
from meshbench.load.timer import DueTimer
from meshbench.results import rundir
from meshbench.results.hlog import new_histogram, record_us

SPAWN_TIMEOUT_S = 30.0
SPAWN_RATE = 100  # users/s: Locust warns above this


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mib() -> float:
    """Peak resident memory of this process image (MiB): VmHWM, which exec resets.
    (``ru_maxrss`` survives exec on Linux, so a generator started by a large parent,
    a test runner of 500 MiB say, would report the parent's size.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


MAX_QUEUED = 100_000
"""Due sends waiting for a free connection, at most (a few MB). A healthy trial keeps
this near 0; when the target or the generator cannot keep up, the dispatcher waits for
room instead of queueing without bound (1 M rps grew the queue by ~80 MB a second, and
the dispatcher never yielded to the connections). Each send keeps its intended time, so
the latency of a late send is still measured from when it was due."""


class _State:
    """What the users and the dispatcher share inside one generator process."""

    def __init__(self, req: LoadRequest, recorder: Recorder) -> None:
        self.req = req
        self.recorder = recorder
        self.queue: Queue[float | None] = Queue(maxsize=MAX_QUEUED)
        self.in_flight = 0
        self.sent = 0
        self.warmup_sent = 0
        self.errors = 0
        self.warmup_errors = 0
        self.error_kinds: Counter[str] = Counter()  # measured phase only
        self.warmup_error_kinds: Counter[str] = Counter()
        self.last_measured_send_s = 0.0
        self.connections_opened = 0  # by the generator, warm-up included
        self.worker_index = 0
        self.named = 0  # requests given an id so far


def _send_due(st: _State, send: Callable[[str | None], tuple[str, float]]) -> None:
    """Take the next due send off the schedule, send it, and file its outcome.
    ``send`` takes the request's id (None: unnamed) and returns the error kind ("" when
    the reply was good) and when the first response byte came."""
    intended = st.queue.get()
    if intended is None:  # end of schedule: park until the runner stops us
        st.queue.put(None)
        gevent.sleep(3600)
        return
    st.in_flight += 1
    warm = st.recorder.is_warmup(intended)
    rid = None
    if st.req.request_id_prefix:
        st.named += 1
        rid = request_id(st.req.request_id_prefix, st.worker_index, st.named, warm)
    sent = time.perf_counter()
    try:
        kind, first = send(rid)
        done = time.perf_counter()
    except Exception as e:  # a client-side failure is this request's error, never a crash
        done = first = time.perf_counter()
        kind = type(e).__name__
    finally:
        st.in_flight -= 1
    if warm:
        st.warmup_sent += 1
    else:
        st.sent += 1
        st.last_measured_send_s = max(st.last_measured_send_s, sent)
    if not kind:
        st.recorder.record(intended, sent, done, first if st.req.stream else None)
    elif warm:
        st.warmup_errors += 1
        st.warmup_error_kinds[kind] += 1
    else:
        st.errors += 1
        st.error_kinds[kind] += 1


class OpenLoopUser(FastHttpUser):
    """One HTTP/1.1 connection that sends whenever the schedule has a due request for it;
    with churn, every N-th request asks for the connection to be closed after its reply."""

    abstract = True
    state: ClassVar[_State]
    path: ClassVar[str] = "/"
    _on_conn = 0

    def on_start(self) -> None:
        # The sample service sets no cookies, and the cookie jar costs ~20 µs per request
        # (stdlib http.cookiejar on every send and receive): turn it off.
        self.client.client.cookiejar = None
        self.state.connections_opened += 1

    def _send(self, rid: str | None) -> tuple[str, float]:
        every = self.state.req.requests_per_connection
        headers = {REQUEST_ID_HEADER: rid} if rid else None
        if every:
            self._on_conn += 1
            if self._on_conn >= every:  # this reply closes it; the next send opens one
                headers = {**(headers or {}), "Connection": "close"}
                self._on_conn = 0
                self.state.connections_opened += 1
        stream = self.state.req.stream
        resp = self.client.get(self.path, name=self.path, headers=headers, stream=stream)
        first = time.perf_counter()
        if stream and resp.stream is not None:
            while resp.stream.read(65536):
                pass
        error = getattr(resp, "error", None)
        # a reply names its status ("HTTP 500"; Locust wraps it as LocustBadStatusCode),
        # no reply names the failure (ConnectionRefusedError, ConnectionResetError, ...)
        code = resp.status_code or 0
        if code == 200 and error is None:
            return "", first
        return (f"HTTP {code}" if code > 0 else type(error).__name__), first

    @task
    def send_due(self) -> None:
        _send_due(self.state, self._send)


class _ClientUser(User):
    """One HTTP/2 or gRPC connection (:mod:`meshbench.load.clients`) driven like the
    HTTP/1.1 users; a subclass opens its protocol's client."""

    abstract = True
    state: ClassVar[_State]
    path: ClassVar[str] = "/"
    _client: clients.H2Client | clients.GrpcClient

    def _open(self, req: LoadRequest) -> clients.H2Client | clients.GrpcClient:
        raise NotImplementedError

    def on_start(self) -> None:
        self._client = self._open(self.state.req)

    def on_stop(self) -> None:
        self._client.close()

    def _send(self, rid: str | None) -> tuple[str, float]:
        before = self._client.opened
        try:
            return self._client.request(self.state.req.stream, rid)
        finally:
            self.state.connections_opened += self._client.opened - before

    @task
    def send_due(self) -> None:
        _send_due(self.state, self._send)


class _H2User(_ClientUser):
    abstract = True

    def _open(self, req: LoadRequest) -> clients.H2Client:
        return clients.H2Client(
            self.host or "", self.path, req.timeout_s, req.requests_per_connection
        )


class _GrpcUser(_ClientUser):
    abstract = True

    def _open(self, req: LoadRequest) -> clients.GrpcClient:
        return clients.GrpcClient(self.host or "", req.timeout_s, req.requests_per_connection)


USERS: dict[Protocol, type[User]] = {"http1": OpenLoopUser, "h2c": _H2User, "grpc": _GrpcUser}
"""The Locust user that loads each protocol (one connection each): Locust's FastHttpUser
for HTTP/1.1, the clients of :mod:`meshbench.load.clients` for HTTP/2 and gRPC."""


def run_load(
    req: LoadRequest,
    out_dir: Path,
    worker_index: int = 0,
    worker_count: int = 1,
    start_at_epoch_s: float | None = None,
) -> LoadSummary:
    """Run one bounded open-loop load and write its files into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    url = urlsplit(req.target_url)
    host = f"{url.scheme}://{url.netloc}"
    total_s = req.warmup_s + req.duration_s
    # Lazy: the schedule is generated as it is sent, so memory does not grow with rate x
    # duration (a list of 1 M rps x 300 s offsets needed ~10 GB before the first send).
    schedule = send_offsets(
        req.rate_rps, total_s, req.schedule, req.seed, worker_index, worker_count
    )
    offsets = itertools.islice(schedule, req.request_bound())
    released = 0

    clients.prepare(req.protocol)
    base = USERS[req.protocol]
    user_cls = type(
        "MeshbenchUser",
        (base,),
        {
            "abstract": False,
            "host": host,
            "path": url.path or "/",
            "network_timeout": req.timeout_s,
            "connection_timeout": req.timeout_s,
            "concurrency": 1,
            "max_retries": 0,
        },
    )
    # The schedule's origin is fixed before the users exist, so they can share the state.
    if start_at_epoch_s is not None and start_at_epoch_s > time.time() + 0.5:
        epoch_origin = start_at_epoch_s
    else:
        epoch_origin = time.time() + 0.3 + req.connections / SPAWN_RATE  # time to spawn users
    origin = time.perf_counter() + (epoch_origin - time.time())
    recorder = Recorder(origin, req.warmup_s)
    state = _State(req, recorder)
    state.worker_index = worker_index
    user_cls.state = state  # type: ignore[attr-defined]

    env = Environment(user_classes=[user_cls], events=events, host=host)
    runner = env.create_local_runner()
    runner.start(req.connections, spawn_rate=min(req.connections, SPAWN_RATE))
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    while runner.user_count < req.connections:
        if time.monotonic() > deadline:
            runner.quit()
            raise RuntimeError(f"only {runner.user_count}/{req.connections} users spawned")
        gevent.sleep(0.01)

    started_utc = datetime.fromtimestamp(epoch_origin, UTC).isoformat(timespec="seconds")
    cpu_measured_start = cpu_measured_end = 0.0
    measured_start = origin + req.warmup_s

    dispatch_lag = new_histogram()  # how late the dispatcher itself released sends (µs)

    timer = DueTimer()

    def dispatch() -> None:
        nonlocal cpu_measured_start, released
        measuring = False
        for off in offsets:
            released += 1
            due = origin + off
            timer.sleep_until(due)
            if not measuring and off >= req.warmup_s:
                measuring = True
                cpu_measured_start = _cpu_s()
            if measuring:
                record_us(dispatch_lag, (time.perf_counter() - due) * 1e6)
            state.queue.put(due)
        state.queue.put(None)

    hard_stop = origin + req.time_bound_s()
    stopped_by = "schedule"
    # A garbage-collector pass over Locust's objects stalls every greenlet for milliseconds:
    # collect now, then keep the collector off for the bounded length of the run.
    gc.collect()
    gc.freeze()
    gc.disable()
    dispatcher = gevent.spawn(dispatch)
    terminated = False

    def on_sigterm() -> None:
        """The harness stops an overrunning generator: end now and write what was measured."""
        nonlocal terminated
        terminated = True
        dispatcher.kill(block=False)

    gevent.signal_handler(signal.SIGTERM, on_sigterm)
    print(f"{READY_MARK} schedule origin {epoch_origin:.6f}", flush=True)
    dispatcher.join(timeout=max(0.0, hard_stop - time.perf_counter()))
    # Wait for queued and in-flight requests to finish (each bounded by the timeout).
    while (
        (state.in_flight > 0 or state.queue.qsize() > 1)
        and time.perf_counter() < hard_stop
        and not terminated
    ):
        gevent.sleep(0.005)
    cpu_measured_end = _cpu_s()
    measured_end = time.perf_counter()
    if terminated:
        stopped_by = "killed"
        dispatcher.kill()
    elif time.perf_counter() >= hard_stop:
        stopped_by = "time_bound"
        dispatcher.kill()
    elif next(schedule, None) is not None:  # the bound cut the schedule short
        stopped_by = "request_bound"
    gc.enable()
    runner.quit()
    timer.close()

    wall_s = max(1e-9, measured_end - measured_start)
    sched_s = max(
        1e-9,
        (state.last_measured_send_s or measured_start)
        - measured_start
        + 1 / req.rate_rps * worker_count,
    )
    summary = LoadSummary(
        requests=state.sent,
        errors=state.errors,
        warmup_requests=state.warmup_sent,
        warmup_errors=state.warmup_errors,
        duration_s=round(wall_s, 6),
        achieved_rps=round(state.sent / sched_s, 3) if state.sent else 0.0,
        generator_cpu=round((cpu_measured_end - cpu_measured_start) / wall_s, 4),
        started_utc=started_utc,
        error_kinds=dict(state.error_kinds),
        warmup_error_kinds=dict(state.warmup_error_kinds),
        stopped_by=stopped_by,
        dispatch_lag_p99_ms=dispatch_lag.get_value_at_percentile(99) / 1000.0,
        generator_rss_mib=_peak_rss_mib(),
        extra={
            "worker_index": worker_index,
            "worker_count": worker_count,
            "target_url": req.target_url,
            "connections": req.connections,
            "scheduled_requests": released,
            "pid": os.getpid(),
            "locust_version": locust.__version__,
            "protocol": req.protocol,
            "requests_per_connection": req.requests_per_connection,
            "connections_opened": state.connections_opened,
            "timer": "timerfd" if timer.precise else "gevent.sleep",
        },
    )
    recorder.write_log(out_dir / HLOG_FILE, epoch_origin, comment=f"meshbench load {req.label}")
    stats: dict[str, Any] = {
        "stats": env.stats.serialize_stats(),
        "total": env.stats.total.get_stripped_report(),
        "errors": env.stats.serialize_errors(),
        "note": "Locust's own statistics, kept for familiarity; never used for percentiles "
        "(Locust rounds response times to ~2 significant digits).",
    }
    rundir.write_text(out_dir, LOCUST_STATS_FILE, json.dumps(stats, indent=2, default=str))
    summary.write(out_dir)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m meshbench.load.generator")
    p.add_argument("--request-json", required=True, help="a LoadRequest as JSON")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--worker-index", type=int, default=0)
    p.add_argument("--worker-count", type=int, default=1)
    p.add_argument(
        "--start-at", type=float, default=None, help="epoch seconds of the schedule origin"
    )
    a = p.parse_args(argv)
    req = LoadRequest.from_json(a.request_json)
    s = run_load(req, a.out, a.worker_index, a.worker_count, a.start_at)
    print(json.dumps({"requests": s.requests, "errors": s.errors, "achieved_rps": s.achieved_rps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
