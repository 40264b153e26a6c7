"""Does meshbench's sidecar overhead agree with a trusted reference on the same pods?

    sudo .venv/bin/python bench/reference_agreement.py [--rate 150] [--connections 16]
        [--blocks 4] [--duration 10] [--tools meshbench,wrk2] [--same-headers]
        [--tools together [--together-third minimal-python] [--wire]]

Deploys the default three-hop chain twice, side by side on the local platform (no mesh
and Envoy sidecars), and measures the overhead (envoy - none) at p50, p90 and p99 with
each tool in interleaved blocks: every block measures both arms with every tool, in an
order rotated per block, so drift lands on both arms and both tools alike. The reference
is wrk2 (open loop, coordinated omission corrected; ``wrk2`` on PATH, built by hand from
giltene/wrk2 since it is not packaged); without it only meshbench is measured and the
script says so. Tools other than ``meshbench`` and ``wrk2``:

- ``together``: meshbench and two wrk2s (one also sending meshbench's request headers)
  at once on the same arm, a third of the rate each (:func:`together_probe`), so all see
  the same seconds of the host. ``--wire`` also times every exchange on the load pod's
  interface (tcpdump; :mod:`wire`), so each tool can be held against the wire times of
  its own requests: an instrument's error shows there, a real difference in how the pods
  served one tool's requests does not.
- ``meshbench-1conn-each``: meshbench with one request in flight per connection, its
  schedule split per connection as wrk2 does (``--connections`` generator processes,
  one connection each).

Prints figures per block, their mean with a t interval over blocks, and each tool's
overhead minus wrk2's (and, with ``--wire``, minus its own wire overhead) paired per block
against the 10 % agreement asked; never fails.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import wire
from scipy import stats

from meshbench.config.scenario import load_scenario
from meshbench.host import interrupts
from meshbench.load.spec import HLOG_FILE, LoadRequest
from meshbench.load.workers import run_workers
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.platforms.local.names import LOAD_POD
from meshbench.platforms.local.netns import POD_IFACE, exec_prefix
from meshbench.platforms.local.platform import LocalPlatform
from meshbench.results import hlog

REPO = Path(__file__).resolve().parent.parent
PERCENTILES = (50.0, 90.0, 99.0)
WRK2_CALIBRATION_S = 10.0
"""wrk2 discards its first 10 s (+5 ms per connection) as calibration (src/wrk.h)."""
Figures = dict[str, dict[float, float]]
"""Percentiles (ms) per figure name: a probe may report several (meshbench: corrected
latency, service time and send lag from one run)."""
Probe = Callable[[str, tuple[str, ...]], Figures]
AGREEMENT = 0.10
"""Agreement asked of meshbench with the reference: within 10 % of the reference's overhead."""


def t975(df: int) -> float:
    """Student t 97.5 % quantile for ``df`` degrees of freedom."""
    return float(stats.t.ppf(0.975, df))


def meshbench_probe(
    name: str, rate: float, conns: int, duration_s: float, cpus: str, workers: int = 1
) -> Probe:
    def run(url: str, prefix: tuple[str, ...]) -> Figures:
        with tempfile.TemporaryDirectory(prefix="meshbench-ref-") as d:
            req = LoadRequest(
                target_url=url,
                rate_rps=rate,
                duration_s=duration_s,
                warmup_s=1.0,
                connections=conns // workers,
            )
            run_workers(req, Path(d), workers, cpus, prefix=list(prefix))
            hists = hlog.read_logs(Path(d) / HLOG_FILE)
        return {
            f"{name}{suffix}": {p: hists[tag].get_value_at_percentile(p) / 1e3 for p in PERCENTILES}
            for tag, suffix in (("latency", ""), ("service", " service"), ("send_lag", " send lag"))
        }

    return run


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


GENERATOR_HEADERS = ("User-Agent: python/gevent-http-client", "Accept-Encoding: gzip, deflate, br")
"""Headers meshbench's HTTP/1.1 generator sends besides Host (Locust's FastHttpUser);
wrk2 sends Host alone unless told these."""


def _wrk2_argv(
    rate: float, conns: int, total_s: float, cpus: str, url: str, headers: Sequence[str] = ()
) -> list[str]:
    return [
        "taskset",
        "-c",
        cpus,
        "wrk2",
        "-t1",
        f"-c{conns}",
        f"-d{math.ceil(total_s)}s",
        f"-R{rate:g}",
        "--latency",
        "-U",
        *(arg for h in headers for arg in ("-H", h)),
        url,
    ]


def _wrk2_figures(out: str) -> Figures:
    figures: Figures = {}
    for name, title in (("wrk2", "Recorded Latency"), ("wrk2 uncorrected", "Uncorrected Latency")):
        block = out.split(f"Latency Distribution (HdrHistogram - {title}")[1]
        got = {}
        for p in PERCENTILES:
            m = re.search(rf"^\s*{p:.3f}%\s+([0-9.]+)(us|ms|s|m)\b", block, re.M)
            got[p] = float(m.group(1)) * _UNITS[m.group(2)] if m else math.nan
        figures[name] = got
    return figures


def wrk2_probe(
    rate: float, conns: int, duration_s: float, cpus: str, headers: Sequence[str] = ()
) -> Probe:
    def run(url: str, prefix: tuple[str, ...]) -> Figures:
        total_s = duration_s + WRK2_CALIBRATION_S + conns * 0.005
        argv = [*prefix, *_wrk2_argv(rate, conns, total_s, cpus, url, headers)]
        return _wrk2_figures(
            subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        )

    return run


TOGETHER_SKEW = 0.03
"""Rates a third of the total each, meshbench's 3 % below and the second wrk2's 3 % above
(64.7, 67 and 69 rps at 200): their phases beat twice a second."""
TOGETHER_LEAD_S = 2.0
"""meshbench starts this long before wrk2's calibration ends: its process start and its
1 s warm-up, so both tools' measured phases cover the same seconds."""


WRK2_HEADERS_MARK = "X-Client: wrk2-headers"
"""Sent by the second wrk2 of --tools together, so the wire timing can tell its
connection from meshbench's (whose headers it also sends)."""


def _tool_of_request(first_request: bytes) -> str:
    """Which tool of ``--tools together`` opened a connection, from its first request."""
    if MINIMAL_MARK.encode() in first_request:
        return "minimal python"
    if WRK2_HEADERS_MARK.encode() in first_request:
        return "wrk2 same headers"
    if GENERATOR_HEADERS[0].encode() in first_request:
        return "meshbench"
    return "wrk2"


def together_probe(
    rate: float,
    conns: int,
    duration_s: float,
    cpus: str,
    third: str = "wrk2-headers",
    capture_dir: Path | None = None,
) -> Probe:
    """meshbench and wrk2 at once on the same arm, together at ``rate``, so all see the
    same host state (on this VM the host's state moves between probes by more than the
    difference sought). The third tool (``third``) is either a second wrk2 that also
    sends the headers meshbench's generator sends (``wrk2-headers``: a cost of the
    request's shape, not of the client, shows there), or ``minimal-python``
    (``bench/minimal_client.py``: a cost of Python, not of Locust, shows there).

    Each wrk2 gets one connection: with several, its connections start 5 ms apart and its
    arrivals bunch at any rate below 200 rps (see the README). The three rates differ by
    :data:`TOGETHER_SKEW` so that no tool's requests sit at one fixed phase behind
    another's: constant schedules with equal periods would put one tool's requests always
    just after the other's, in the queue the other's left on the pods' CPU (seen: wrk2's
    p50 overhead twice meshbench's in the same seconds). With unequal periods the phases
    sweep through every offset several times a second.

    With ``capture_dir``, every exchange is also timed on the load pod's interface
    (:mod:`wire`) over the tools' measured seconds: figures ``wire <tool>``.
    """
    share = rate / 3
    mesh = meshbench_probe("meshbench", share * (1 - TOGETHER_SKEW), conns, duration_s, cpus)
    variants: dict[str, Sequence[str]] = {"wrk2": ()}
    if third == "wrk2-headers":
        variants["wrk2 same headers"] = (*GENERATOR_HEADERS, WRK2_HEADERS_MARK)
    # wrk2 takes whole requests per second only
    rates = {"wrk2": round(share), "wrk2 same headers": round(share * (1 + TOGETHER_SKEW))}
    minimal_rps = share * (1 + TOGETHER_SKEW)

    def run(url: str, prefix: tuple[str, ...]) -> Figures:
        calibration_s = WRK2_CALIBRATION_S + 0.005
        total_s = calibration_s + duration_s + TOGETHER_LEAD_S
        wrks: dict[str, subprocess.Popen[str]] = {}
        minimal: subprocess.Popen[str] | None = None
        capture: wire.Capture | None = None
        try:
            for name, headers in variants.items():
                argv = [*prefix, *_wrk2_argv(rates[name], 1, total_s, cpus, url, headers)]
                wrks[name] = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            time.sleep(calibration_s - TOGETHER_LEAD_S)
            if capture_dir is not None:
                capture = wire.Capture(
                    prefix, POD_IFACE, capture_dir / f"together-{time.time_ns()}.pcap", cpus
                )
            if third == "minimal-python":
                # its own 1 s warm-up plus ~0.5 s to start: about meshbench's lead
                argv = [*prefix, "taskset", "-c", cpus, sys.executable, str(MINIMAL_CLIENT)]
                argv += [url, f"{minimal_rps:g}", str(conns), f"{duration_s:g}"]
                minimal = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            figures = mesh(url, prefix)
            if minimal is not None:
                out, _ = minimal.communicate(timeout=duration_s + 60)
                figures.update(_minimal_figures(out))
            for name, wrk in wrks.items():
                out, err = wrk.communicate(timeout=total_s + 30)
                if wrk.returncode:
                    raise subprocess.CalledProcessError(wrk.returncode, wrk.args, out, err)
                for fig, pct in _wrk2_figures(out).items():
                    figures[fig.replace("wrk2", name, 1)] = pct
            if capture is not None:
                capture.stop()
                figures.update(_wire_figures(capture, url))
        finally:
            if capture is not None:
                capture.stop()
            for proc in [*wrks.values(), *([minimal] if minimal else [])]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return {f"{name} (together)": pct for name, pct in figures.items()}

    return run


MINIMAL_CLIENT = Path(__file__).resolve().parent / "minimal_client.py"
MINIMAL_MARK = "X-Client: minimal-python"
"""The header ``bench/minimal_client.py`` sends besides Host (it tells its connections
apart on the wire)."""


def _wire_figures(capture: wire.Capture, url: str) -> Figures:
    """Percentiles of each tool's round trips on the wire, over the measured seconds (from
    :data:`TOGETHER_LEAD_S` after the capture began: the tools' warm-ups are left out)."""
    got = wire.exchanges(capture.path, urlsplit(url).port or 80, _tool_of_request)
    capture.path.unlink()
    figures: Figures = {}
    for tool, ex in got.items():
        rtts = [rtt for sent, rtt in ex if sent >= capture.started_s + TOGETHER_LEAD_S]
        if rtts:
            values = np.percentile(rtts, PERCENTILES)
            figures[f"wire {tool}"] = dict(zip(PERCENTILES, map(float, values), strict=True))
    return figures


def _minimal_figures(out: str) -> Figures:
    """``bench/minimal_client.py``'s line: latency and service time percentiles."""
    figures: Figures = {}
    for name, label in (("minimal python", "latency"), ("minimal python service", "service")):
        part = out.split(label, 1)[1]
        figures[name] = {
            p: float(m.group(1)) if (m := re.search(rf"p{p:g} ([0-9.]+)", part)) else math.nan
            for p in PERCENTILES
        }
    return figures


def _mean_half(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t interval (two values at least)."""
    n = len(values)
    return statistics.fmean(values), t975(n - 1) * statistics.stdev(values) / math.sqrt(n)


def _mean_ci(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:+.3f}" if values else "-"
    m, half = _mean_half(values)
    return f"{m:+.3f} ± {half:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per probe")
    parser.add_argument("--tools", default="meshbench,wrk2")
    parser.add_argument("--load-cpus", help="pin the tools here (default: the measured choice)")
    parser.add_argument("--pod-cpus", help="pin apps and sidecars here (default: measured)")
    parser.add_argument(
        "--same-headers",
        action="store_true",
        help="wrk2 also sends the request headers meshbench's generator sends",
    )
    parser.add_argument(
        "--together-third",
        choices=("wrk2-headers", "minimal-python"),
        default="wrk2-headers",
        help="the third tool of --tools together",
    )
    parser.add_argument(
        "--wire",
        action="store_true",
        help="with --tools together: also time every exchange on the load pod's interface "
        "(tcpdump), a clock no client's own costs reach",
    )
    a = parser.parse_args()
    if a.wire and "together" not in a.tools.split(","):
        raise SystemExit("--wire times the tools of --tools together only: add --tools together")
    if a.wire and not shutil.which("tcpdump"):
        raise SystemExit("--wire needs tcpdump on PATH (fix: apt-get install tcpdump)")
    interrupts.install()  # Ctrl-C and SIGTERM reach us and remove the pods (as in the CLI)
    scenario = load_scenario(REPO / "scenarios" / "default.yaml")
    if a.load_cpus or a.pod_cpus:
        local = scenario.local.model_copy(update={"load_cpus": a.load_cpus, "pod_cpus": a.pod_cpus})
        scenario = scenario.model_copy(update={"local": local})
    platform = LocalPlatform(scenario)
    cpus = platform.pinning.load_cpus
    probes: dict[str, Probe] = {}
    # packet captures (--wire), each removed once read; the folder goes on every exit
    capture_dir = Path(tempfile.mkdtemp(prefix="meshbench-wire-")) if a.wire else None
    for tool in a.tools.split(","):
        if tool == "meshbench":
            probes[tool] = meshbench_probe(tool, a.rate, a.connections, a.duration, cpus)
        elif tool == "meshbench-1conn-each":
            probes[tool] = meshbench_probe(
                tool, a.rate, a.connections, a.duration, cpus, workers=a.connections
            )
        elif tool == "together":
            if shutil.which("wrk2"):
                probes[tool] = together_probe(
                    a.rate, a.connections, a.duration, cpus, a.together_third, capture_dir
                )
            else:
                print("wrk2 is not on PATH: 'together' needs it")
        elif tool == "wrk2":
            if shutil.which("wrk2"):
                headers = GENERATOR_HEADERS if a.same_headers else ()
                probes[tool] = wrk2_probe(a.rate, a.connections, a.duration, cpus, headers)
            else:
                print(
                    "wrk2 is not on PATH: no reference measured (build giltene/wrk2 and "
                    "install its wrk binary as wrk2)"
                )
        else:
            raise SystemExit(f"unknown tool {tool!r}")
    print(
        f"three-hop chain, {a.rate:g} rps, {a.connections} connections, {a.duration:g} s "
        f"measured per probe, {a.blocks} blocks; generator on CPU {cpus}, apps on "
        f"{platform.pinning.pod_cpus}, sidecars on {platform.pinning.sidecar_cpus}"
    )
    # figures[figure name][arm] = one dict of percentiles per block
    figures: dict[str, dict[str, list[dict[float, float]]]] = {}
    try:
        with (
            platform.deploy("none", scenario.topology) as none,
            platform.deploy("envoy", scenario.topology) as envoy,
        ):
            deps = {"none": none, "envoy": envoy}
            for dep in deps.values():
                assert isinstance(dep, LocalDeployment)
                dep.verify()
            tools = list(probes)
            for block in range(a.blocks):
                arms = ["none", "envoy"] if block % 2 == 0 else ["envoy", "none"]
                order = tools if block % 2 == 0 else tools[::-1]
                for tool in order:
                    for arm in arms:
                        dep = deps[arm]
                        assert isinstance(dep, LocalDeployment)
                        got = probes[tool](
                            dep.target_url(), tuple(exec_prefix(dep.netns[LOAD_POD]))
                        )
                        for name, pct in got.items():
                            figures.setdefault(name, {"none": [], "envoy": []})[arm].append(pct)
                            print(
                                f"block {block + 1} {name:<28}{arm:<7}"
                                + "".join(f"  p{p:g} {pct[p]:.3f}" for p in PERCENTILES),
                                flush=True,
                            )
    finally:
        platform.close()
        if capture_dir is not None:
            shutil.rmtree(capture_dir, ignore_errors=True)
    print(f"\n== overhead envoy - none, ms (mean over {a.blocks} blocks ± 95 % t interval) ==")
    print(
        f"{'figure':<28}"
        + "".join(f"{'p' + format(p, 'g'):>20}" for p in PERCENTILES)
        + f"{'none p50':>10}{'envoy p50':>10}"
    )
    for tool, per_arm in figures.items():
        cells = []
        for p in PERCENTILES:
            cells.append(f"{_mean_ci(_overheads(per_arm, p)):>20}")
        print(
            f"{tool:<28}"
            + "".join(cells)
            + f"{statistics.fmean(x[50.0] for x in per_arm['none']):>10.3f}"
            + f"{statistics.fmean(x[50.0] for x in per_arm['envoy']):>10.3f}"
        )
        print(f"{'  per block p50':<28}" + " ".join(f"{d:+.3f}" for d in _overheads(per_arm, 50.0)))

    _print_agreement(figures, a.blocks)


def _overheads(per_arm: dict[str, list[dict[float, float]]], p: float) -> list[float]:
    """Per-block overhead (envoy - none, ms) at percentile ``p``."""
    return [e[p] - n[p] for e, n in zip(per_arm["envoy"], per_arm["none"], strict=True)]


def _agreement_cells(
    ours_arms: dict[str, list[dict[float, float]]], ref_arms: dict[str, list[dict[float, float]]]
) -> list[str]:
    """One cell per percentile: the overhead minus the reference's, paired per block (both
    measured on the same pods within the block), as a mean with a 95 % t interval and as a
    share of the reference's mean overhead; agreement within 10 % holds when the whole
    interval lies inside +-10 %."""
    cells = []
    for p in PERCENTILES:
        ours, theirs = _overheads(ours_arms, p), _overheads(ref_arms, p)
        diffs = [x - y for x, y in zip(ours, theirs, strict=True)]
        scale = abs(statistics.fmean(theirs))
        if len(diffs) < 2 or scale == 0:
            cells.append(f"p{p:g} {_mean_ci(diffs)}")
            continue
        m, half = _mean_half(diffs)
        within = f"within {100 * AGREEMENT:g} %"
        verdict = within if abs(m) + half <= AGREEMENT * scale else f"not shown {within}"
        cells.append(
            f"p{p:g} {m:+.3f} ± {half:.3f} ({100 * m / scale:+.0f} % "
            f"[{100 * (m - half) / scale:+.0f}, {100 * (m + half) / scale:+.0f}] "
            f"of {scale:.2f}: {verdict})"
        )
    return cells


def _print_agreement(figures: dict[str, dict[str, list[dict[float, float]]]], blocks: int) -> None:
    """Each tool's overhead against wrk2's and, where the wire was timed, against the wire
    figures of its own requests (see :func:`_agreement_cells`)."""
    if not any(name.startswith("wrk2") for name in figures):
        return
    print(
        f"\n== agreement with wrk2: overhead minus wrk2's, paired per block, ms "
        f"(± 95 % t interval, {blocks} blocks) =="
    )
    for tool, per_arm in figures.items():
        together = tool.endswith(" (together)")
        base = tool.removesuffix(" (together)")
        ref = figures.get("wrk2 (together)" if together else "wrk2")
        if (
            ref is None
            or base in ("wrk2", "wrk2 uncorrected")
            or base.startswith("wire ")  # against wrk2's wire figures, below
            or base.endswith((" service", " send lag", " uncorrected"))
        ):
            continue
        print(f"{tool}:\n  " + "\n  ".join(_agreement_cells(per_arm, ref)))
    wired = [t for t in figures if t.startswith("wire ")]
    if not wired:
        return
    print(
        "\n== each tool against the wire: its overhead minus that of its own requests timed "
        "on the load pod's interface, paired per block, ms =="
    )
    for wire_name in wired:
        tool = wire_name.removeprefix("wire ")
        suffixes = ("", " service", " uncorrected")
        for name in (tool.replace(" (together)", f"{x} (together)") for x in suffixes):
            if name in figures and name != wire_name:
                cells = _agreement_cells(figures[name], figures[wire_name])
                print(f"{name}:\n  " + "\n  ".join(cells))
    ref = next((figures[t] for t in wired if t.startswith("wire wrk2 (")), None)
    if ref is not None:
        print("\n== on the wire: each tool's requests against wrk2's, paired per block, ms ==")
        for wire_name in wired:
            if not wire_name.startswith("wire wrk2 ("):
                print(f"{wire_name}:\n  " + "\n  ".join(_agreement_cells(figures[wire_name], ref)))


if __name__ == "__main__":
    main()
