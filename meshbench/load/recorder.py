"""Per-interval HdrHistograms of corrected latency, service time and send lag (µs).

Samples are filed by their *intended* send time, so an interval's histogram describes
the requests that were due in that second, however late they were answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hdrh.histogram import HdrHistogram

from meshbench.results import rundir
from meshbench.results.hlog import WARMUP_PREFIX, LogWriter, new_histogram, record_us


@dataclass
class _Interval:
    latency: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    send_lag: HdrHistogram = field(default_factory=new_histogram)
    ttfb: HdrHistogram | None = None  # time to first byte, streamed responses only


class Recorder:
    """Collects samples by interval and writes a tagged HdrHistogram interval log."""

    def __init__(self, start_s: float, warmup_s: float, interval_s: float = 1.0) -> None:
        """``start_s`` is the schedule's origin on the same clock as every later time."""
        self.start_s = start_s
        self.warmup_s = warmup_s
        self.interval_s = interval_s
        self._intervals: dict[int, _Interval] = {}

    def is_warmup(self, intended_s: float) -> bool:
        return intended_s - self.start_s < self.warmup_s

    def _index(self, intended_s: float) -> int:
        """Interval index; warm-up and measured intervals never share an index."""
        offset = intended_s - self.start_s
        if offset < self.warmup_s:
            return -1 - int(offset // self.interval_s)  # -1, -2, ...: warm-up intervals
        return int((offset - self.warmup_s) // self.interval_s)

    def record(
        self, intended_s: float, sent_s: float, done_s: float, first_s: float | None = None
    ) -> None:
        """One successful request: due at ``intended_s``, sent at ``sent_s``, done at
        ``done_s`` (last byte); ``first_s``: its first byte, when responses are streamed."""
        iv = self._intervals.get(idx := self._index(intended_s))
        if iv is None:
            iv = self._intervals[idx] = _Interval()
        record_us(iv.latency, (done_s - intended_s) * 1e6)
        record_us(iv.service, (done_s - sent_s) * 1e6)
        record_us(iv.send_lag, (sent_s - intended_s) * 1e6)
        if first_s is not None:
            if iv.ttfb is None:
                iv.ttfb = new_histogram()
            record_us(iv.ttfb, (first_s - intended_s) * 1e6)

    def totals(self, warmup: bool = False) -> dict[str, HdrHistogram]:
        """Merged histograms of the measured (or warm-up) intervals, by tag."""
        out = {"latency": new_histogram(), "service": new_histogram(), "send_lag": new_histogram()}
        for idx, iv in self._intervals.items():
            if (idx < 0) != warmup:
                continue
            out["latency"].add(iv.latency)
            out["service"].add(iv.service)
            out["send_lag"].add(iv.send_lag)
            if iv.ttfb is not None:
                out.setdefault("ttfb", new_histogram()).add(iv.ttfb)
        return out

    def write_log(self, path: Path, epoch_start_s: float, comment: str = "") -> None:
        """Write every interval (atomically); ``epoch_start_s`` is the wall-clock time of
        ``start_s``."""
        with rundir.text_file(path.parent, path.name) as f:
            w = LogWriter(f, epoch_start_s, comment)

            def bounds(idx: int) -> tuple[float, float]:
                if idx < 0:
                    lo = (-1 - idx) * self.interval_s
                    hi = min(lo + self.interval_s, self.warmup_s)
                else:
                    lo = self.warmup_s + idx * self.interval_s
                    hi = lo + self.interval_s
                return epoch_start_s + lo, epoch_start_s + hi

            for idx in sorted(self._intervals, key=lambda i: bounds(i)[0]):
                iv = self._intervals[idx]
                lo, hi = bounds(idx)
                prefix = WARMUP_PREFIX if idx < 0 else ""
                w.write(prefix + "latency", lo, hi, iv.latency)
                w.write(prefix + "service", lo, hi, iv.service)
                w.write(prefix + "send_lag", lo, hi, iv.send_lag)
                if iv.ttfb is not None:
                    w.write(prefix + "ttfb", lo, hi, iv.ttfb)
