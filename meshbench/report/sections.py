"""The sections of a run's report, in the one order every writer renders them: the
terminal (:mod:`meshbench.report.console`), ``report.html`` and ``summary.md``. Each
writer decides how (the terminal prints the tables without headings; the documents put
each section under its title); a section whose tables are all empty is left out by all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import Cell
from meshbench.report import feature_tables, tables, workload_tables
from meshbench.report.tables import Table


@dataclass(frozen=True)
class Section:
    """A titled group of tables; ``cell``: the cell they describe, None for the run-wide
    sections."""

    title: str
    tables: Sequence[Table | None]
    cell: Cell | None = None


def run_sections(an: Analysis) -> list[Section]:
    """Per cell its latency and overhead tables, then the run-wide sections."""
    swept = an.run.swept
    per_cell = [
        Section(
            cell.title(swept),
            [tables.latency_table(an, cell), tables.overhead_table(an, cell)],
            cell,
        )
        for cell in an.run.cells
    ]
    return [
        *per_cell,
        Section("Latency budget", [tables.slo_table(an), tables.max_rate_table(an)]),
        Section("Stalls", [tables.stall_table(an)]),
        Section(
            "Where the overhead goes", [*tables.attribution_tables(an), tables.depth_table(an)]
        ),
        Section("What each sidecar feature costs", [feature_tables.feature_table(an)]),
        Section("Resource cost", [tables.cost_table(an)]),
        Section(
            "Connections and streaming",
            [workload_tables.connection_table(an), workload_tables.first_byte_table(an)],
        ),
    ]


def appendix(an: Analysis) -> Section:
    """What the documents add after the plots: the design diagnostics and every trial (the
    terminal prints the diagnostics only, above the verdict)."""
    return Section("Appendix", [tables.diagnostics_table(an), tables.trials_table(an)])
