"""Results of a load worker pod, carried home through its log.

A finished pod cannot be ``kubectl cp``-ed from, so each worker ends by printing its
output directory as a gzipped tar, base64, between two marker lines that carry the
archive's SHA-256 and size. :func:`extract` finds the block in a log, checks the digest
(a rotated or truncated log is detected, never half-read) and writes only the expected
files. Run in the pod as ``python -m meshbench.platforms.kind.bundle DIR``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path

from meshbench.errors import PlatformError
from meshbench.load.spec import HLOG_FILE, LOCUST_STATS_FILE, SUMMARY_FILE

FILES = (SUMMARY_FILE, HLOG_FILE, LOCUST_STATS_FILE)
BEGIN = "-----BEGIN MESHBENCH BUNDLE"
END = "-----END MESHBENCH BUNDLE-----"
_BEGIN_RE = re.compile(r"^-----BEGIN MESHBENCH BUNDLE sha256=([0-9a-f]{64}) bytes=(\d+)-----$")


def pack(out_dir: Path) -> str:
    """The bundle text for the result files present in ``out_dir``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in FILES:
            path = out_dir / name
            if path.is_file():
                tar.add(path, arcname=name, recursive=False)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    b64 = base64.b64encode(data).decode("ascii")
    lines = [f"{BEGIN} sha256={digest} bytes={len(data)}-----"]
    lines += [b64[i : i + 76] for i in range(0, len(b64), 76)]
    lines.append(END)
    return "\n".join(lines) + "\n"


def extract(log_text: str, dest: Path, source: str = "pod log") -> list[str]:
    """Unpack the bundle found in ``log_text`` into ``dest``; returns the file names written."""
    lines = log_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(BEGIN)), None)
    if start is None:
        raise PlatformError(
            f"{source}: no meshbench result bundle in the log (the worker died before the end?)",
            fix="read the pod's log with kubectl logs; raise kind.load_memory_limit if OOMKilled",
        )
    m = _BEGIN_RE.match(lines[start].strip())
    try:
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == END)
    except StopIteration:
        end = None
    if m is None or end is None:
        raise PlatformError(
            f"{source}: the result bundle is truncated (log rotated or cut)",
            fix="meshbench's kind config raises containerLogMaxSize; on other clusters shorten "
            "the trial or add load workers",
        )
    data = base64.b64decode("".join(line.strip() for line in lines[start + 1 : end]))
    if len(data) != int(m.group(2)) or hashlib.sha256(data).hexdigest() != m.group(1):
        raise PlatformError(f"{source}: the result bundle's checksum does not match (corrupt log)")
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name not in FILES or not member.isfile():
                continue  # only the known, flat file names: no paths, links or devices
            f = tar.extractfile(member)
            if f is None:
                continue
            (dest / member.name).write_bytes(f.read())
            written.append(member.name)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m meshbench.platforms.kind.bundle DIR", file=sys.stderr)
        return 2
    sys.stdout.write(pack(Path(args[0])))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
