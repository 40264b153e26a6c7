"""HdrHistogram interval logs (format version 1.3, with tags) in microseconds.

The files are readable by the standard HdrHistogram tools (``HistogramLogProcessor
-tag latency``) and by :func:`read_log`. hdrh's own writer cannot write tags, and its
``output_start_time`` is broken in 0.10.8, so the few header lines are written here.

Tags used by meshbench:

- ``latency``: from the *intended* send time to the end of the response (coordinated
  omission corrected). The number a user experiences.
- ``service``: from the actual send to the end of the response (uncorrected).
- ``send_lag``: actual send time minus intended send time (how late the generator was).
- the same three with a ``warmup.`` prefix for the warm-up intervals (kept, excluded).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000  # 60 s: larger values are clamped, never silently dropped
SIGNIFICANT_DIGITS = 3
MAX_VALUE_UNIT_RATIO = 1000.0  # values are µs; the "Interval_Max" column is in ms

TAGS = ("latency", "service", "send_lag", "ttfb")
"""Tags of a trial's log: corrected latency (to the last byte), service time, send lag,
and time to first byte (streamed responses only)."""
WARMUP_PREFIX = "warmup."


def new_histogram() -> HdrHistogram:
    """An empty histogram with meshbench's range: 1 µs .. 60 s, 3 significant digits."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def percentiles_ms(h: HdrHistogram, percentiles: Sequence[float]) -> dict[float, float]:
    """``{percentile: value in ms}`` of one µs histogram, as HdrHistogram reports it (100:
    the maximum); NaN for every percentile when the histogram is empty."""
    total = h.get_total_count()
    if not total:
        return {q: math.nan for q in percentiles}
    # HdrHistogram.get_value_at_percentile, with the bucket walk done by numpy (~4x faster)
    cumulative = np.cumsum(np.ctypeslib.as_array(h.counts)[: h.counts_len], dtype=np.int64)
    out = {}
    for q in percentiles:
        target = max(int(min(q, 100.0) * total / 100 + 0.5), 1)
        index = min(int(np.searchsorted(cumulative, target, side="left")), h.counts_len - 1)
        value = h.get_value_from_index(index)
        edge = h.get_highest_equivalent_value(value) if q else h.get_lowest_equivalent_value(value)
        out[q] = edge / 1000.0
    return out


def record_us(histogram: HdrHistogram, value_us: float) -> None:
    """Record one value in µs, clamped into the histogram's range (never dropped)."""
    v = int(value_us)
    if v < LOWEST_US:
        v = LOWEST_US
    elif v > HIGHEST_US:
        v = HIGHEST_US
    histogram.record_value(v)


@dataclass
class Interval:
    """One interval histogram of one tag."""

    tag: str
    start_s: float  # seconds since the log's start time
    length_s: float
    histogram: HdrHistogram


class LogWriter:
    """Writes tagged interval histograms to an open text file."""

    def __init__(self, out: IO[str], start_time_s: float, comment: str = "") -> None:
        self._out = out
        self._start = start_time_s
        if comment:
            out.write(f"#{comment}\n")
        out.write("#[Histogram log format version 1.3]\n")
        iso = datetime.fromtimestamp(start_time_s, UTC).isoformat()
        out.write(f"#[StartTime: {start_time_s:.3f} (seconds since epoch), {iso}]\n")
        out.write(f"#[BaseTime: {start_time_s:.3f} (seconds since epoch)]\n")
        out.write(
            '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'
        )

    def write(self, tag: str, start_s: float, end_s: float, histogram: HdrHistogram) -> None:
        """Append one interval; ``start_s``/``end_s`` are absolute epoch seconds."""
        payload = histogram.encode().decode("ascii")
        max_ms = histogram.get_max_value() / MAX_VALUE_UNIT_RATIO
        self._out.write(
            f"Tag={tag},{start_s - self._start:.3f},{end_s - start_s:.3f},{max_ms:.3f},{payload}\n"
        )


_LINE = re.compile(r"^(?:Tag=([^,]+),)?([0-9.]+),([0-9.]+),([0-9.]+),(\S+)$")
_START = re.compile(r"^#\[StartTime: *([0-9.]+)")


@contextmanager
def _lines(source: Path | IO[str]) -> Iterator[IO[str]]:
    """``source`` as an open text stream: a path is opened (and closed), a stream is
    used as it is (e.g. the text of a file read safely from a run directory)."""
    if isinstance(source, Path):
        with source.open() as f:
            yield f
    else:
        yield source


def _name(source: Path | IO[str]) -> str:
    return str(source if isinstance(source, Path) else getattr(source, "name", "<log>"))


def iter_log(source: Path | IO[str]) -> Iterator[Interval]:
    """Every interval of a log (a path, or an open text stream), in file order."""
    with _lines(source) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", '"')):
                continue
            m = _LINE.match(line)
            if not m:
                raise ValueError(f"{_name(source)}: unreadable interval line: {line[:60]}...")
            tag, start, length, _max, payload = m.groups()
            yield Interval(tag or "", float(start), float(length), HdrHistogram.decode(payload))


def start_time(source: Path | IO[str]) -> float | None:
    """The log's StartTime in epoch seconds, if present."""
    with _lines(source) as f:
        for line in f:
            m = _START.match(line)
            if m:
                return float(m.group(1))
            if not line.startswith("#"):
                return None
    return None


def read_logs(path: Path | IO[str], tags: tuple[str, ...] = TAGS) -> dict[str, HdrHistogram]:
    """For each tag, all its intervals merged into one histogram (lossless), in one pass."""
    totals = {tag: new_histogram() for tag in tags}
    for interval in iter_log(path):
        if interval.tag in totals:
            totals[interval.tag].add(interval.histogram)
    return totals


def read_log(path: Path, tag: str = "latency") -> HdrHistogram:
    """All intervals of ``tag`` merged into one histogram (lossless)."""
    return read_logs(path, (tag,))[tag]
