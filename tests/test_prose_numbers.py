"""Every number in a chapter's prose is printed by a cell of that chapter, shown in its code, or cited.

The rule and how it matches are in tools/prose_numbers.py; ``python tools/prose_numbers.py`` lists what is unbacked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import prose_numbers  # noqa: E402

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

CHAPTERS = prose_numbers.chapters()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_every_prose_number_is_printed_shown_or_cited(notebook):
    missing = prose_numbers.unbacked(notebook)
    assert not missing, (f"{notebook.name}: these prose numbers are printed by no cell, shown in no code and cited "
                         "to no source; print them from a cell, or cite their source (tools/prose_numbers.py): "
                         + ", ".join(f"cell {number.cell}: {number.text}" for number in missing))
    assert not prose_numbers.citation_errors(notebook)


def test_the_readme_chapter_map_quotes_only_printed_numbers():
    notebooks = {path.name[:2]: path for path in CHAPTERS}
    assert prose_numbers.readme_chapter_rows((ROOT / "README.md").read_text()).keys() == notebooks.keys()
    assert not prose_numbers.readme_unbacked((ROOT / "README.md").read_text(), notebooks)


def _chapter(tmp_path, markdown: str, printed: str, code: str = "x = 1", cited: dict | None = None) -> Path:
    """A two-cell notebook: one markdown cell, one code cell with a printed output."""
    metadata = {"gan_lessons": {"cited": cited}} if cited else {}
    cells = [{"cell_type": "markdown", "metadata": metadata, "source": [markdown]},
             {"cell_type": "code", "metadata": {}, "source": [code], "execution_count": 1,
              "outputs": [{"output_type": "stream", "name": "stdout", "text": [printed]}]}]
    path = tmp_path / "99_test.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_typed_result_fails_and_a_printed_one_passes(tmp_path):
    typed = prose_numbers.unbacked(_chapter(tmp_path, "It scores 0.913 after 59 minutes.", "confidence 0.866\n"))
    assert [number.text for number in typed] == ["0.913", "59 minutes"]
    assert not prose_numbers.unbacked(_chapter(tmp_path, "It scores 0.87 and 38.5 % are unsure.",
                                               "confidence 0.8664, unsure 0.385\n"))


def test_rounding_is_at_the_prose_precision(tmp_path):
    assert prose_numbers.unbacked(_chapter(tmp_path, "It scores 0.866.", "confidence 0.8649\n"))
    assert prose_numbers.unbacked(_chapter(tmp_path, "Took 3,560 s.", "3,562.4 s\n"))
    assert not prose_numbers.unbacked(_chapter(tmp_path, "Took 3,560 s.", "3,559.6 s\n"))


def test_code_literals_count_and_comments_do_not(tmp_path):
    assert not prose_numbers.unbacked(_chapter(tmp_path, "Adam with lr 2e-4.", "", code="lr = 2e-4"))
    assert prose_numbers.unbacked(_chapter(tmp_path, "It scored 0.891.", "", code="x = 1  # 0.891 last time"))


def test_a_citation_needs_its_link_in_the_cell(tmp_path):
    source = "https://arxiv.org/abs/1809.03627"
    linked = _chapter(tmp_path, f"ClusterGAN reports 0.95 ([Mukherjee et al.]({source})).", "", cited={"0.95": source})
    assert not prose_numbers.unbacked(linked) and not prose_numbers.citation_errors(linked)
    unlinked = _chapter(tmp_path, "ClusterGAN reports 0.95.", "", cited={"0.95": source})
    assert prose_numbers.citation_errors(unlinked)


def test_code_spans_years_and_counts_are_not_claims(tmp_path):
    markdown = "Radford et al. (2015) use `lr=0.0002`, 4 layers and $\\log 4 \\approx 1.386$; about 30 minutes to read."
    assert not prose_numbers.unbacked(_chapter(tmp_path, markdown, ""))
