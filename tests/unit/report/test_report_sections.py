"""One ordered list of report sections (meshbench.report.sections) that the terminal,
report.html and summary.md all render: a writer that drops a section, reorders them or
keeps a list of its own fails here."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from meshbench.analysis.stored_run import load_run
from meshbench.analysis.summary import Analysis, analyse
from meshbench.report import sections, write_report
from meshbench.report.console import print_analysis
from meshbench.report.sections import Section
from meshbench.report.tables import Table
from meshbench.testing.synthetic import small_run

from .conftest import SampleReport

RUN_WIDE = [
    "Latency budget",
    "Stalls",
    "Where the overhead goes",
    "What each sidecar feature costs",
    "Resource cost",
    "Connections and streaming",
]


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    run_dir = small_run(tmp_path_factory.mktemp("sections") / "run", ["none", "envoy"])
    return analyse(load_run(run_dir))


def _fake(an: Analysis) -> list[Section]:
    """Sections whose every table is marked, one per cell and three run-wide, one of them
    with an empty table (left out by every writer) besides a full one."""

    def table(name: str) -> Table:
        return Table(f"table {name}", ["mesh", "value"], [["none", f"v-{name}"]])

    cell = an.run.cells[0]
    return [
        Section("section one", [table("1a"), None, table("1b")], cell),
        Section("section two", [table("2")]),
        Section("section empty", [None, Table("table empty", ["a"], [])]),
        Section("section three", [Table("table gone", ["a"], []), table("3")]),
    ]


EXPECTED_TABLES = ["table 1a", "table 1b", "table 2", "table 3"]


def _in_order(text: str, needles: list[str]) -> bool:
    at = [text.find(n) for n in needles]
    return -1 not in at and at == sorted(at)


def test_every_writer_renders_every_section_in_the_lists_order(
    analysis: Analysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake(analysis)
    monkeypatch.setattr(sections, "run_sections", lambda an: fake)
    buf = StringIO()
    print_analysis(analysis, Console(file=buf, width=160, no_color=True))
    console = buf.getvalue()
    write_report(analysis, tmp_path, written=[])
    page = (tmp_path / "report.html").read_text()
    md = (tmp_path / "summary.md").read_text()

    assert _in_order(console, EXPECTED_TABLES), console
    assert _in_order(page, [f"<h3>{t}</h3>" for t in EXPECTED_TABLES])
    assert _in_order(md, [f"**{t}**" for t in EXPECTED_TABLES])
    headings = ["section one", "section two", "section three"]
    assert _in_order(page, [f"<h2>{h}</h2>" for h in headings])
    assert _in_order(md, [f"## {h}" for h in headings])
    for text in (console, page, md):
        assert "section empty" not in text and "table empty" not in text
        assert "table gone" not in text
    # the terminal sets each cell's tables apart with a blank line, and prints no heading
    assert re.search(r"\n *\ntable 1a", console)
    assert "section one" not in console


def test_the_list_holds_the_cells_then_the_run_wide_sections(analysis: Analysis) -> None:
    listed = sections.run_sections(analysis)
    cells = analysis.run.cells
    assert [s.cell for s in listed] == [*cells, *[None] * len(RUN_WIDE)]
    assert [s.title for s in listed[len(cells) :]] == RUN_WIDE


def test_the_terminal_shows_the_cost_table_like_the_documents(
    sample_report: SampleReport,
) -> None:
    title = "Resource cost (mean over valid trials)"
    assert title in sample_report.output
    assert title in (sample_report.run_dir / "summary.md").read_text()
    assert title in (sample_report.run_dir / "report.html").read_text()
