"""The notebook contract of ../shared/COURSE.md, checked on every committed chapter."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import chapter_times  # noqa: E402
import public_url  # noqa: E402

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def cells_of(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_twelve_chapters():
    assert [path.name[:2] for path in CHAPTERS] == [f"{number:02d}" for number in range(12)]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_the_opening_cell_has_the_title_the_goal_the_time_and_the_colab_badge(notebook):
    opening = cells_of(notebook)[0]
    text = source(opening)
    assert opening["cell_type"] == "markdown" and text.startswith(f"# Chapter {notebook.name[:2]} — ")
    assert "**After this chapter you can**" in text
    time = re.search(r"\*\*Time:\*\*[^*]*", text)
    assert time and "CPU" in time.group(0) and "GPU" in time.group(0), "the time on a CPU and on a GPU"
    badge = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    assert f"{badge}({public_url.colab(notebook.name)})" in text


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_exercises_have_hidden_solutions_and_check_cells(notebook):
    cells = cells_of(notebook)
    exercises = [index for index, cell in enumerate(cells)
                 if cell["cell_type"] == "markdown" and re.search(r"^## Exercises", source(cell), re.M)]
    assert exercises, "the chapter ends with an '## Exercises' section"
    solutions = [index for index, cell in enumerate(cells) if cell["metadata"].get("jupyter", {}).get("source_hidden")]
    assert solutions and min(solutions) > exercises[0]
    for index in solutions:
        assert cells[index]["cell_type"] == "code" and source(cells[index]).startswith("# @title Solution\n")
        # Colab shows a form cell's title and folds its code; JupyterLab reads source_hidden
        assert cells[index]["metadata"].get("cellView") == "form", f"cell {index}: a Colab form, folded there too"
        following = [source(cell) for cell in cells[index + 1:index + 3] if cell["cell_type"] == "code"]
        assert any("check_answer(" in text or re.search(r"\bcheck_\w+\(", text) for text in following), \
            f"the solution in cell {index} has no check cell after it"
    summary = [index for index, cell in enumerate(cells) if re.search(r"^## Summary", source(cell), re.M)]
    assert summary and summary[0] <= exercises[0]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_slide_metadata_code_cells_of_at_most_40_lines_and_a_full_run_committed(notebook):
    cells = cells_of(notebook)
    slides = [cell for cell in cells if cell["metadata"].get("slideshow", {}).get("slide_type") == "slide"]
    assert len(slides) >= 4, "sections marked as slides for nbconvert --to slides"
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert max(len(source(cell).splitlines()) for cell in code) <= 40
    environment = "".join("".join(output.get("text", "")) for output in code[0]["outputs"])
    assert "smoke mode: False" in environment, "commit the chapter with the outputs of a full run"
    assert all(cell["execution_count"] for cell in code), "every code cell ran"


def test_the_readme_gives_each_chapters_measured_full_run_time():
    """The instructors' table in README.md matches the committed notebooks' own cell timestamps."""
    readme = (ROOT / "README.md").read_text()
    for notebook in CHAPTERS:
        seconds = chapter_times.total_seconds(notebook)
        assert f"| {notebook.name[:2]} | {chapter_times.minutes(seconds)} |" in readme, \
            f"README's time for {notebook.name} is stale: run tools/chapter_times.py and paste its table"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_no_assert_is_switched_off_in_the_smoke_setting(notebook):
    """``assert SMOKE or claim`` checks nothing in CI: the smoke setting gets a weaker bound, never none."""
    vacuous = [line.strip() for cell in cells_of(notebook) if cell["cell_type"] == "code"
               for line in source(cell).splitlines()
               if re.search(r"\bassert\b", line) and re.search(r"\bSMOKE\s+or\b|\bor\s+SMOKE\b", line)]
    full_only = [source(cell).splitlines()[0] for cell in cells_of(notebook) if cell["cell_type"] == "code"
                 and re.search(r"^(\s*)if not SMOKE\b.*:.*\n(?:\1\s+.*\n)*?\1\s+assert\b", source(cell), re.M)]
    assert not vacuous, f"{notebook.name}: give these a smoke bound instead: {vacuous}"
    assert not full_only, f"{notebook.name}: these cells assert only in the full run; add a smoke bound: {full_only}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_the_opening_states_the_committed_runs_own_time(notebook):
    assert chapter_times.opening(notebook) in source(cells_of(notebook)[0]), \
        f"{notebook.name}: the opening's run time is stale: python tools/chapter_times.py --write-openings"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_no_chapter_imports_the_command_line(notebook):
    """``gan_lessons.train`` is the command line; what a chapter needs of it lives in the library (``dcgan``)."""
    imports = [line.strip() for cell in cells_of(notebook) if cell["cell_type"] == "code"
               for line in source(cell).splitlines()
               if re.search(r"^\s*(from\s+gan_lessons\.train\s+import|import\s+gan_lessons\.train\b|"
                            r"from\s+gan_lessons\s+import\s+.*\btrain\b)", line)]
    assert not imports, f"{notebook.name} imports the command line: {imports}; import from gan_lessons.dcgan"


@pytest.mark.parametrize("line, caught", [("from gan_lessons.train import train_dcgan", True),
                                          ("    import gan_lessons.train as cli", True),
                                          ("from gan_lessons import data, train, plotting", True),
                                          ("from gan_lessons import training", False),
                                          ("from gan_lessons.dcgan import train_dcgan", False)])
def test_the_command_line_import_check_catches_the_forms(line, caught, tmp_path):
    notebook = tmp_path / "99_test.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [line]}]}))
    if caught:
        with pytest.raises(AssertionError, match="imports the command line"):
            test_no_chapter_imports_the_command_line(notebook)
    else:
        test_no_chapter_imports_the_command_line(notebook)
