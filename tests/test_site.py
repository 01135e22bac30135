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
