"""The terminal report: warnings first, then the report's sections
(:func:`meshbench.report.sections.run_sections`: per cell a latency and an overhead table,
then the run-wide tables), the design diagnostics, and last (where a terminal leaves it in
view) the verdict sentences."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from meshbench.analysis.compare import Comparison
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import DIMS, cell_of
from meshbench.report import sections, tables
from meshbench.report.tables import Table
from meshbench.report.verdict import verdict_lines

_STYLES = {"bad": "red", "good": "green", "noise": "dim"}
MIN_WIDTH = 120  # when printing to a pipe or file, do not squeeze tables to 80 columns


def make_console() -> Console:
    """A rich console that prints plain text (no colour codes) when not on a terminal."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, MIN_WIDTH), no_color=True)
    return console


def _rich(t: Table) -> RichTable:
    rt = RichTable(
        title=t.title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption=t.caption,
        caption_justify="left",
    )
    for i, col in enumerate(t.columns):
        rt.add_column(col, justify="left" if i == 0 or col in ("verdict", "trial") else "right")
    for i, row in enumerate(t.rows):
        rt.add_row(*row, style=_STYLES.get(t.style(i)))
    return rt


def print_table(console: Console, t: Table | None) -> None:
    if t is not None and t.rows:
        console.print(_rich(t))


def print_analysis(an: Analysis, console: Console) -> None:
    """Header, warnings, every section's tables (a blank line before each cell's), the
    design diagnostics, then the verdict."""
    run = an.run
    console.print(Text(f"meshbench report: {run.run_id}", style="bold"))
    console.print(
        f"status {run.status}, platform {run.platform}, "
        f"{len(run.trials)} trial(s), meshes {', '.join(run.meshes) or '-'}"
    )
    for w in an.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
    for n in an.notes:
        console.print(f"note: {n}")
    for section in sections.run_sections(an):
        if section.cell is not None:
            console.print()
        for t in section.tables:
            print_table(console, t)
    print_table(console, tables.diagnostics_table(an))
    console.print(Text("Verdict", style="bold"))
    for line in verdict_lines(an):
        console.print(f"- {line}", soft_wrap=True)


def print_comparison(cmp: Comparison, console: Console) -> None:
    """Both runs' tables, then B - A per rate."""
    for label, items in (
        ("key metadata differ (forced)", cmp.mismatches),
        ("warning", cmp.disagreements),
        ("other differences", cmp.differences),
    ):
        for item in items:
            console.print(Text(f"{label}: {item}", style="yellow"))
    for an in (cmp.a, cmp.b):
        console.rule(an.run.run_id)
        print_analysis(an, console)
    console.rule("B - A")
    for cell in sorted({cell_of(r) for r in cmp.diff[list(DIMS)].to_dict("records")}):
        print_table(console, tables.diff_table(cmp, cell))
