"""``meshbench report``, ``compare`` and ``gate`` as library functions.

The report files are derived from the stored results and are rewritten on every call
(atomically); the results themselves are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from rich.console import Console

from meshbench import __version__
from meshbench.analysis.compare import Comparison, compare_runs
from meshbench.analysis.gate import Gate, gate_runs
from meshbench.analysis.plots import PLOTS
from meshbench.analysis.plots.comparison import COMPARISON_PLOTS
from meshbench.analysis.plots.style import render
from meshbench.analysis.stored_run import Run, load_run
from meshbench.analysis.summary import Analysis, analyse
from meshbench.config.dimensions import DIMS, cell_of
from meshbench.errors import ResultsError
from meshbench.report import fmt, html, markdown, tables, workload_tables
from meshbench.report.console import make_console, print_analysis, print_comparison
from meshbench.report.gate_summary import gate_lines, junit_xml
from meshbench.report.tables import Table
from meshbench.report.verdict import verdict_lines
from meshbench.report.verdict_json import (
    compare_document,
    gate_document,
    run_document,
    write_verdict,
)
from meshbench.results import rundir
from meshbench.results.baselines import DEFAULT_ROOT, find_baseline
from meshbench.results.store import atomic_write_text, read_run_json

REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
PLOTS_DIR = "plots"
COMPARE_HTML = "compare.html"
COMPARE_MD = "compare.md"

CAPTIONS = {
    "percentile_spectrum": "Pooled latency at every percentile on a 'nines' axis, per mesh.",
    "latency_vs_rate": "Pooled p50, p99 and p99.9 against the offered rate; dots are single "
    "trials.",
    "overhead_ci": "Overhead against none per percentile (mean within-repeat contrast) with "
    "its interval; marker per verdict: filled circle slower, filled triangle "
    "faster, square no meaningful change, hollow inconclusive, x descriptive. "
    "The shaded band is the practical threshold.",
    "repeat_blocks": "Each line is one repeat: its none trial joined to the same repeat's mesh "
    "trial, at each primary percentile. Lines that all rise are an overhead "
    "visible in every repeat, whatever the drift between repeats.",
    "cdf": "Cumulative distribution of pooled latency (log time axis).",
    "p99_over_time": "p99 of each ~1 s interval of every trial; dashed = warm-up (excluded), "
    "dotted = invalid trial.",
    "resource_cost": "Mean CPU and memory per trial by component (sidecars summed over pods).",
    "where_overhead_goes": "Each arm's mean request, part by part along its path (wire into a "
    "pod, its inbound sidecar, its app, its outbound sidecar, and back), from the kernel's "
    "capture times at every pod's boundaries (attribution mode).",
    "overhead_vs_depth": "Overhead against call-chain depth, with its interval.",
    "overhead_vs_payload": "Overhead against response payload size, with its interval.",
    "overhead_vs_connections": "Overhead against the number of connections, with its interval.",
    "compare_spectrum": "Both runs' percentile spectra: A solid, B dashed.",
    "compare_diff": "Run B minus run A per percentile: the difference of the two runs' "
    "overheads (for none, of its latency), with its interval.",
}

METHOD = (
    "Latency is measured from each request's intended send time (open loop, coordinated "
    "omission corrected) and recorded in HdrHistograms (µs, 3 significant digits). Warm-up "
    "intervals and invalid trials are excluded. Percentiles come from histograms pooled over a "
    "cell's valid trials, never from averaged percentiles; they are descriptive. The "
    "overhead, its interval and the verdict come from within-repeat contrasts of per-trial "
    "percentiles (each repeat is a block of back-to-back trials of every arm), so drift "
    "shared by a repeat cancels. "
)


def _sections(an: Analysis) -> list[tuple[str, Sequence[Table | None]]]:
    out: list[tuple[str, Sequence[Table | None]]] = []
    for cell in an.run.cells:
        out.append(
            (
                cell.title(an.run.swept),
                [tables.latency_table(an, cell), tables.overhead_table(an, cell)],
            )
        )
    out.append(("Latency budget", [tables.slo_table(an), tables.max_rate_table(an)]))
    out.append(("Stalls", [tables.stall_table(an)]))
    out.append(
        ("Where the overhead goes", [*tables.attribution_tables(an), tables.depth_table(an)])
    )
    out.append(("Resource cost", [tables.cost_table(an)]))
    out.append(
        (
            "Connections and streaming",
            [workload_tables.connection_table(an), workload_tables.first_byte_table(an)],
        )
    )
    return out


def _footer(an: Analysis) -> str:
    return (
        f"{METHOD}{tables.method_caption(an)} Generated by meshbench "
        f"{__version__} from {an.run.path}."
    )


@dataclass(frozen=True)
class Plot:
    """One plot as written: its PNG's path and bytes (embedded in report.html as written,
    never read back from disk), and its caption."""

    png: Path
    png_bytes: bytes
    caption: str


def _write_plots(figures: Mapping[str, Figure | None], root: Path, rel: Path) -> list[Plot]:
    written = []
    for name, fig in figures.items():
        if fig is None:
            continue
        png_bytes = render(fig, "png")
        png = rundir.write_bytes(root, rel / f"{name}.png", png_bytes)
        rundir.write_bytes(root, rel / f"{name}.svg", render(fig, "svg"))
        written.append(Plot(png, png_bytes, CAPTIONS.get(name, name)))
    return written


def write_plots(an: Analysis, plot_dir: Path, root: Path | None = None) -> list[Plot]:
    """Render every report plot into ``plot_dir`` (PNG + SVG, each written atomically);
    ``root``: the directory ``plot_dir`` lies in, below which no link is followed
    (default: ``plot_dir``'s parent)."""
    base = root if root is not None else plot_dir.parent
    figures = {name: make(an) for name, make in PLOTS.items()}
    return _write_plots(figures, base, plot_dir.relative_to(base))


def _subtitle(an: Analysis) -> str:
    run = an.run
    text = (
        f"{run.platform} platform, meshes {', '.join(run.meshes) or '-'}, "
        f"{len(run.trials)} trial(s), status {run.status}"
    )
    return f"{text}; {run.snapshot}" if run.snapshot else text


def write_report(an: Analysis, out_dir: Path, written: list[Plot] | None = None) -> list[Path]:
    """Write ``report.html``, ``summary.md``, ``verdict.json`` and ``plots/*.{png,svg}``
    into ``out_dir``, each file atomically and none through a link below ``out_dir``
    (``written``: plots already rendered by :func:`write_plots`).

    Returns the paths written (the documents, then the plots directory).
    """
    plot_dir = out_dir / PLOTS_DIR
    if written is None:
        written = write_plots(an, plot_dir, root=out_dir)
    run = an.run
    title = f"meshbench report: {run.run_id}"
    subtitle = _subtitle(an)
    verdict = verdict_lines(an)
    setup = fmt.setup_lines(run)
    sections = _sections(an)
    appendix = [tables.diagnostics_table(an), tables.trials_table(an)]
    page = html.render(
        title=title,
        subtitle=subtitle,
        verdict=verdict,
        warnings=an.warnings,
        notes=an.notes,
        setup=setup,
        sections=sections,
        figures=[(p.png_bytes, p.caption) for p in written],
        appendix=appendix,
        footer=_footer(an),
    )
    md = markdown.render(
        title=title,
        subtitle=subtitle,
        verdict=verdict,
        warnings=an.warnings,
        notes=an.notes,
        setup=setup,
        sections=[*sections, ("Appendix", appendix)],
        figures=[(f"{PLOTS_DIR}/{p.png.name}", p.caption) for p in written],
        footer=_footer(an),
    )
    rundir.write_text(out_dir, REPORT_HTML, page)
    rundir.write_text(out_dir, SUMMARY_MD, md)
    verdict_file = write_verdict(run_document(an), out_dir)
    return [out_dir / REPORT_HTML, out_dir / SUMMARY_MD, verdict_file, plot_dir]


def refuse_live(run: Run, partial: bool, verb: str) -> None:
    """A report of a run still being measured goes stale as the run goes on: refused
    unless asked for (``--partial``), and then it says it is a snapshot."""
    if run.live and not partial:
        planned = len(run.meta.get("plan") or [])
        raise ResultsError(
            f"{run.path} is still running ({len(run.trials)} of {planned} planned trials so "
            f"far): a {verb} now would be a snapshot that does not follow the run",
            fix=f"wait until it has completed, or pass --partial for a {verb} of the trials "
            "stored so far (its own CPU use is load on a host the run may share)",
        )


def report_run(
    run_dir: Path,
    *,
    out_dir: Path | None = None,
    console: Console | None = None,
    write_files: bool = True,
    partial: bool = False,
) -> Analysis:
    """Print the per-mesh tables of ``run_dir`` (pooled percentiles, overhead against
    ``none`` with intervals, validity warnings) and write report.html, summary.md and the
    plots into ``out_dir`` (default: the run directory). A run still running is refused
    unless ``partial`` (then the report says it is a snapshot). Returns the analysis."""
    console = console or make_console()
    run = load_run(run_dir)
    refuse_live(run, partial, "report")
    an = analyse(run)
    print_analysis(an, console)
    if write_files:
        console.print()
        for p in write_report(an, Path(out_dir or run_dir)):
            console.print(f"wrote {p}", soft_wrap=True)
    return an


def write_comparison(cmp: Comparison, out_dir: Path, root: Path | None = None) -> list[Path]:
    """Write ``compare.html``, ``compare.md``, ``verdict.json`` and the comparison plots
    into ``out_dir`` (atomically, no link followed below ``root``; default: ``out_dir``
    itself)."""
    base = root if root is not None else out_dir
    sub = out_dir.relative_to(base)
    plot_dir = out_dir / PLOTS_DIR
    figures = {n: make(cmp) for n, make in COMPARISON_PLOTS.items()}
    written = _write_plots(figures, base, sub / PLOTS_DIR)
    a, b = cmp.a, cmp.b
    title = f"meshbench compare: {a.run.run_id} (A) vs {b.run.run_id} (B)"
    subtitle = "B - A per mesh, rate and percentile; each run's own tables follow."
    live = [tag for tag, an in (("A", a), ("B", b)) if an.run.live]
    if live:
        subtitle += f" A snapshot: {' and '.join(live)} still running when read."
    warnings = [f"key metadata differ (compared with force): {m}" for m in cmp.mismatches]
    warnings += [f"A: {w}" for w in a.warnings] + [f"B: {w}" for w in b.warnings]
    warnings += cmp.disagreements
    notes = [f"other differences: {d}" for d in cmp.differences]
    notes += [
        f"host during trials, {tag}: {fmt.host_state(an.run)}" for tag, an in (("A", a), ("B", b))
    ]
    cells = sorted({cell_of(r) for r in cmp.diff[list(DIMS)].to_dict("records")})
    sections: list[tuple[str, Sequence[Table | None]]] = [
        ("B - A", [tables.diff_table(cmp, c) for c in cells])
    ]
    for tag, an in (("A", a), ("B", b)):
        sections += [(f"{tag}: {h}", t) for h, t in _sections(an)]
    setup = [(f"A {k}", v) for k, v in fmt.setup_lines(a.run)]
    setup += [(f"B {k}", v) for k, v in fmt.setup_lines(b.run)]
    footer = _footer(b)
    page = html.render(
        title=title,
        subtitle=subtitle,
        verdict=[],
        warnings=warnings,
        notes=notes,
        setup=setup,
        sections=sections,
        figures=[(p.png_bytes, p.caption) for p in written],
        appendix=[],
        footer=footer,
    )
    md = markdown.render(
        title=title,
        subtitle=subtitle,
        verdict=[],
        warnings=warnings,
        notes=notes,
        setup=setup,
        sections=sections,
        figures=[(f"{PLOTS_DIR}/{p.png.name}", p.caption) for p in written],
        footer=footer,
    )
    rundir.write_text(base, sub / COMPARE_HTML, page)
    rundir.write_text(base, sub / COMPARE_MD, md)
    verdict_file = write_verdict(compare_document(cmp), out_dir, root=base)
    return [out_dir / COMPARE_HTML, out_dir / COMPARE_MD, verdict_file, plot_dir]


def compare_report(
    run_a: Path,
    run_b: Path,
    *,
    force: bool = False,
    out_dir: Path | None = None,
    console: Console | None = None,
    write_files: bool = True,
    partial: bool = False,
) -> Comparison:
    """Print both runs' tables and B - A; write compare.html/.md and plots into ``out_dir``
    (default: ``<run_b>/compare-<run_a name>``). Refuses runs that measured different
    things unless ``force``, a run still running unless ``partial``, and runs with
    nothing to compare (no baseline, no common cell)."""
    console = console or make_console()
    runs = load_run(run_a), load_run(run_b)
    for run in runs:
        refuse_live(run, partial, "comparison")
    cmp = compare_runs(*runs, force=force)
    print_comparison(cmp, console)
    if write_files:
        console.print()
        if out_dir is not None:
            written = write_comparison(cmp, Path(out_dir))
        else:  # inside run B: held there like its own report
            name = f"compare-{Path(run_a).resolve().name}"
            written = write_comparison(cmp, Path(run_b) / name, root=Path(run_b))
        for p in written:
            console.print(f"wrote {p}", soft_wrap=True)
    return cmp


def gate_report(
    candidate: Path,
    baseline: Path | None = None,
    *,
    against: str | None = None,
    baselines_root: Path = DEFAULT_ROOT,
    threshold_ms: float | None = None,
    threshold_pct: float | None = None,
    percentiles: Sequence[float] | None = None,
    force: bool = False,
    out_dir: Path | None = None,
    junit: Path | None = None,
    print_line: Callable[[str], None] = print,
) -> Gate:
    """Gate ``candidate`` against the run ``baseline`` or the saved baseline ``against``
    (looked up under ``baselines_root`` by the candidate's scenario and host); print the
    CI-log summary, write ``verdict.json`` into ``out_dir`` (default:
    ``<candidate>/gate-<baseline name>``) and, with ``junit``, a JUnit XML file.

    The exit code a CI job should use is ``Gate.exit_code``.
    """
    if (baseline is None) == (against is None):
        raise ValueError("give exactly one of baseline and against")
    label = None
    forced: list[str] = []
    if against is not None:
        found, forced = find_baseline(
            against, read_run_json(candidate), baselines_root, force=force
        )
        baseline, label = found.run_dir, against
    assert baseline is not None
    g = gate_runs(
        baseline,
        candidate,
        threshold_ms=threshold_ms,
        threshold_pct=threshold_pct,
        percentiles=percentiles,
        force=force,
    )
    g.forced[:0] = [f"baseline {label}: {f}" for f in forced]
    for line in gate_lines(g, label):
        print_line(line)
    name = label or Path(baseline).resolve().name
    if out_dir is None:  # inside the candidate run: held there like its own report
        out, root = Path(candidate) / f"gate-{name}", Path(candidate)
    else:
        out, root = Path(out_dir), Path(out_dir)
    written = [write_verdict(gate_document(g, label), out, root=root)]
    if junit is not None:
        atomic_write_text(junit, junit_xml(g, label))
        written.append(junit)
    for p in written:
        print_line(f"wrote {p}")
    return g
