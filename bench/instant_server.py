"""An HTTP/1.1 server that answers every request at once: a target for measuring the
generator itself where no Envoy binary is at hand (e.g. a bigger VM without our venv).

    python bench/instant_server.py --port 18990 --cpus 8-11

One asyncio process per CPU listed (SO_REUSEPORT spreads connections between them),
each pinned to its CPU; keep-alive, a 2-byte body, no parsing beyond the blank line that
ends a request (GETs without bodies only). Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meshbench.config.cpu_list import parse_cpu_list

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _Instant(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * n)


def _serve(port: int, cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Instant, sock=sock))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cpus", required=True, help="one server process per CPU, e.g. 1 or 8-11")
    a = p.parse_args()
    cpus = parse_cpu_list(a.cpus)
    children = []
    for cpu in cpus[1:]:
        pid = os.fork()
        if pid == 0:
            _serve(a.port, cpu)
            os._exit(0)
        children.append(pid)
    try:
        _serve(a.port, cpus[0])
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
