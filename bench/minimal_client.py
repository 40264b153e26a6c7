"""A minimal open-loop HTTP/1.1 client in Python, to tell Locust's cost from Python's.

    .venv/bin/python bench/minimal_client.py URL RATE_RPS CONNECTIONS DURATION_S

gevent and raw keep-alive sockets, nothing else: requests carry Host and an X-Client
header (which tells its connections apart in a packet capture), each goes out
on the connection idle longest, replies are read by Content-Length. Latency counts from
the intended send time (coordinated omission corrected), service time from the actual
send. It measures, after 1 s of warm-up, and prints one line:

    latency p50 P p90 P p99 P service p50 P p90 P p99 P cpu_ms_per_req C

(ms; C: this process's CPU per request). Bounded: it sends RATE x (DURATION + 1)
requests and stops. Not a product load generator: no errors are counted, no timeouts.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import resource  # noqa: E402 - after the monkey patch, as gevent requires
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
import gevent.queue  # noqa: E402
from hdrh.histogram import HdrHistogram  # noqa: E402

WARMUP_S = 1.0
PERCENTILES = (50, 90, 99)


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str]) -> None:
    url, rate, conns, duration_s = urlsplit(argv[1]), float(argv[2]), int(argv[3]), float(argv[4])
    request = (
        f"GET {url.path or '/'} HTTP/1.1\r\nHost: {url.netloc}\r\nX-Client: minimal-python\r\n\r\n"
    ).encode()
    idle: gevent.queue.Queue[socket.socket] = gevent.queue.Queue()
    for _ in range(conns):
        s = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        idle.put(s)
    latency, service = HdrHistogram(1, 60_000_000, 3), HdrHistogram(1, 60_000_000, 3)
    origin = time.perf_counter() + 0.2

    def one(intended_s: float, s: socket.socket) -> None:
        sent = time.perf_counter()
        s.sendall(request)
        buf = b""
        while True:
            buf += s.recv(65536)
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
        done = time.perf_counter()
        idle.put(s)
        if intended_s >= origin + WARMUP_S:
            latency.record_value(int((done - intended_s) * 1e6))
            service.record_value(int((done - sent) * 1e6))

    total = int((duration_s + WARMUP_S) * rate)
    cpu0 = _cpu_s()
    for i in range(total):
        intended = origin + i / rate
        wait = intended - time.perf_counter()
        if wait > 0:
            gevent.sleep(wait)
        gevent.spawn(one, intended, idle.get())
    gevent.sleep(0.5)
    cpu_ms = (_cpu_s() - cpu0) / total * 1e3
    figures = [
        f"{name} " + " ".join(f"p{p} {h.get_value_at_percentile(p) / 1e3:.3f}" for p in PERCENTILES)
        for name, h in (("latency", latency), ("service", service))
    ]
    print(*figures, f"cpu_ms_per_req {cpu_ms:.3f}")


if __name__ == "__main__":
    main(sys.argv)
