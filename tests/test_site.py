"""The chapters render to a static site and slide decks (tools/render_site.py), figures included."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import public_url  # noqa: E402
import render_site  # noqa: E402

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files


def test_every_chapter_renders_with_all_its_figures_and_a_deck(tmp_path):
    pages = render_site.build(tmp_path)
    assert len(pages) == 12
    index = (tmp_path / "index.html").read_text()
    for page in pages:
        stem = Path(page.notebook).stem
        assert page.title.startswith("Chapter ") and page.figures >= 1 and page.slides >= 8
        assert f'href="{stem}.html"' in index and f'href="slides/{stem}.slides.html"' in index
        assert f'href="{public_url.colab(page.notebook)}"' in index
        html = (tmp_path / f"{stem}.html").read_text()
        assert page.title in html and html.count('src="data:image/png;base64,') == page.figures
        assert "reveal" in (tmp_path / "slides" / f"{stem}.slides.html").read_text()


def small_chapter(outputs) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    title = nbformat.v4.new_markdown_cell("# Chapter 99 — A test", metadata={"slideshow": {"slide_type": "slide"}})
    notebook.cells = [title, nbformat.v4.new_code_cell("plot()", outputs=outputs)]
    return notebook


def png_output(encoded: str):
    return nbformat.v4.new_output("display_data", data={"image/png": encoded, "text/plain": "<Figure>"})


def a_figure() -> str:
    buffer = io.BytesIO()
    figure = plt.figure(figsize=(2, 2))
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_small_chapter_renders(tmp_path):
    path = tmp_path / "99_test.ipynb"
    nbformat.write(small_chapter([png_output(a_figure())]), path)
    [page] = render_site.build(tmp_path / "site", [path])
    assert page.figures == 1 and page.title == "Chapter 99 — A test"


@pytest.mark.parametrize("outputs, message", [
    ([nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])], "hold an error output"),
    ([png_output(base64.b64encode(b"not a png").decode())], "is not a readable PNG"),
])
def test_a_chapter_with_an_error_or_a_broken_figure_stops_the_build_with_a_message(tmp_path, outputs, message):
    path = tmp_path / "99_test.ipynb"
    nbformat.write(small_chapter(outputs), path)
    with pytest.raises(SystemExit, match=message):
        render_site.build(tmp_path / "site", [path])


def test_solutions_are_folded_on_the_page_and_left_out_of_the_deck_with_the_setup_cell(tmp_path):
    notebook = small_chapter([png_output(a_figure())])
    setup = nbformat.v4.new_code_cell("import secret_setup_module")
    exercise = nbformat.v4.new_markdown_cell("## Exercises\n\nWrite `double`.",
                                             metadata={"slideshow": {"slide_type": "slide"}})
    solution = nbformat.v4.new_code_cell("# @title Solution\ndef double(x):\n    return 2 * x  # the answer",
                                         metadata={"jupyter": {"source_hidden": True}})
    check = nbformat.v4.new_code_cell("check_answer(double, lambda x: x + x, [(1,)])")
    notebook.cells = [notebook.cells[0], setup, *notebook.cells[1:], exercise, solution, check]
    path = tmp_path / "99_test.ipynb"
    nbformat.write(notebook, path)
    render_site.build(tmp_path / "site", [path])
    page = (tmp_path / "site" / "99_test.html").read_text()
    assert page.count("<details>") == 1 and "Solution</b> (click to show)" in page
    folded = page[page.index("<details>"):page.index("</details>")]
    assert "return" in folded and "the answer" in folded  # the solution is inside the fold, and only there
    assert page.count("the answer") == 1 and "@title" not in folded  # Colab's form title stays out of the page
    deck = (tmp_path / "site" / "slides" / "99_test.slides.html").read_text()
    assert "the answer" not in deck and "secret_setup_module" not in deck
    assert "check_answer" in deck and "Write" in deck  # the exercise and its check stay


def test_every_chapter_s_solutions_are_folded_on_its_page(tmp_path):
    """The committed chapters: as many folds on each page as the chapter has solution cells."""
    pages = render_site.build(tmp_path, sorted((ROOT / "notebooks").glob("0[34]_*.ipynb")))
    for page in pages:
        notebook = nbformat.read(ROOT / "notebooks" / page.notebook, as_version=4)
        solutions = [cell for cell in notebook.cells if render_site.is_solution(cell)]
        html = (tmp_path / f"{Path(page.notebook).stem}.html").read_text()
        assert solutions and html.count("<details>") == len(solutions), page.notebook


def test_a_long_section_goes_on_over_subslides_so_that_no_slide_scrolls():
    section = nbformat.v4.new_markdown_cell("## 1. A long section", metadata={"slideshow": {"slide_type": "slide"}})
    code = [nbformat.v4.new_code_cell("\n".join(f"x{i}_{line} = {line}" for line in range(10))) for i in range(3)]
    figure = nbformat.v4.new_code_cell("show()", outputs=[png_output(a_figure())])
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import setup"), section, *code, figure])
    deck = render_site.for_the_deck(notebook)
    kinds = [cell.metadata.get("slideshow", {}).get("slide_type", "-") for cell in deck.cells]
    # heading + 10 + 10 lines fit (21 ≤ 24); the third block starts a subslide, the figure (1 + 16) another
    assert kinds == ["skip", "slide", "-", "-", "subslide", "subslide"]
    short = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import setup"), section, code[0]])
    assert [cell.metadata.get("slideshow", {}).get("slide_type", "-") for cell in
            render_site.for_the_deck(short).cells] == ["skip", "slide", "-"]


def test_chapter_04s_long_sections_are_split_in_its_deck():
    notebook = nbformat.read(render_site.NOTEBOOKS / "04_dcgan_mnist.ipynb", as_version=4)
    marked = lambda cells: sum(cell.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide")
                               for cell in cells)
    assert marked(render_site.for_the_deck(notebook).cells) > marked(notebook.cells) + 5
