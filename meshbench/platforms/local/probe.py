"""Wait until URLs answer, from inside a pod's namespace (``python -m ...probe``); URLs
are ``http://`` or ``grpc://`` (see :mod:`meshbench.service.probe`).

Exit status 0 when every URL answered 200 before the deadline; otherwise 1, with the
last error of each failing URL on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from meshbench.service.probe import request_once


def wait_ok(urls: Sequence[str], deadline_s: float, interval_s: float = 0.05) -> dict[str, str]:
    """Poll each URL until it answers 200; returns ``url -> last error`` for the failures."""
    end = time.monotonic() + deadline_s
    pending = {u: "not tried" for u in urls}
    while pending and time.monotonic() < end:
        for url in list(pending):
            error = request_once(url, timeout_s=2.0)
            if error:
                pending[url] = error
            else:
                del pending[url]
        if pending:
            time.sleep(interval_s)
    return pending


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m meshbench.platforms.local.probe")
    p.add_argument("--deadline", type=float, default=30.0, help="seconds")
    p.add_argument("urls", nargs="+")
    a = p.parse_args(argv)
    failed = wait_ok(a.urls, a.deadline)
    for url, err in failed.items():
        print(f"{url}: {err}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
