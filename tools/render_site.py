"""Render the chapters, with the outputs of their committed full runs, into a static site and slide decks.

    python tools/render_site.py site/          # site/index.html, one page per chapter, site/slides/*.slides.html

A reader without Jupyter opens ``site/index.html``. Each chapter also becomes a reveal.js deck
(``jupyter nbconvert --to slides`` with the chapters' slide metadata) for presenting. Exercise solutions
(the cells JupyterLab keeps folded, ``jupyter.source_hidden``) stay one click away on the page, folded in a
``<details>``, and are left out of the deck, as is the setup cell (imports and installs) an audience need not
see. The script checks
what it wrote and stops with a message if a page lost a figure, a figure is not a readable PNG, a chapter
holds an error output, or a deck has fewer slides than the chapter has slide cells. CI runs it
(tests/test_site.py).
"""

from __future__ import annotations

import argparse
import base64
import copy
import html
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import public_url
from matplotlib import image as matplotlib_image
from nbconvert import HTMLExporter, SlidesExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EMBEDDED_PNG = re.compile(r'<img[^>]+src="data:image/png;base64,([^"]+)"')


@dataclass
class Page:
    notebook: str
    title: str
    figures: int
    slides: int


def chapter_title(notebook) -> str:
    first = "".join(notebook.cells[0].source).splitlines()[0]
    return first.lstrip("# ").strip()


def figures_in(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def check_png(encoded: str, where: str) -> None:
    try:
        pixels = matplotlib_image.imread(io.BytesIO(base64.b64decode(encoded)), format="png")
    except Exception as error:
        raise SystemExit(f"{where}: a figure is not a readable PNG ({error})") from error
    if min(pixels.shape[:2]) < 10:
        raise SystemExit(f"{where}: a figure of {pixels.shape[1]}×{pixels.shape[0]} pixels is empty")


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden", False)


def folded_solution(cell):
    """A solution cell as a folded ``<details>`` block: the reader opens it with one click."""
    code = cell.source.removeprefix("# @title Solution\n")  # Colab's form title: the summary says it
    fence = "~~~~" if "```" in code else "```"
    return nbformat.v4.new_markdown_cell(
        f"<details><summary><b>Solution</b> (click to show)</summary>\n\n{fence}python\n{code}\n{fence}\n\n"
        "</details>", metadata={"slideshow": cell.metadata.get("slideshow", {})})


def for_the_page(notebook):
    """The chapter as the site shows it: every solution folded."""
    page = copy.deepcopy(notebook)
    page.cells = [folded_solution(cell) if is_solution(cell) else cell for cell in page.cells]
    return page


# What one reveal.js slide shows without scrolling, in lines of text, and what a figure takes of it. A section
# taller than that goes on over several subslides (down-arrow in reveal.js): an instructor never scrolls.
SLIDE_LINES = 24
FIGURE_LINES = 16


def cell_height(cell) -> int:
    """A cell's height on a slide, in lines: its source, its text outputs, FIGURE_LINES per figure."""
    lines = len(cell.source.splitlines())
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            lines += FIGURE_LINES
        elif "text" in output or "text/plain" in data:
            text = output.get("text") or data.get("text/plain", "")
            lines += len(("".join(text) if isinstance(text, list) else text).splitlines())
    return lines


def split_long_slides(cells) -> None:
    """Start a subslide at each cell that would push its slide past SLIDE_LINES (a cell taller than a
    slide still gets a slide of its own)."""
    height = 0
    for cell in cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if kind in ("skip", "notes"):
            continue
        own = cell_height(cell)
        if kind in ("slide", "subslide") or height + own <= SLIDE_LINES:
            height = own if kind in ("slide", "subslide") else height + own
            continue
        cell.metadata["slideshow"] = {"slide_type": "subslide"}
        height = own


def for_the_deck(notebook):
    """The chapter as the slides show it: without the setup cell and the solutions, long sections split."""
    deck = copy.deepcopy(notebook)
    setup = next(cell for cell in deck.cells if cell.cell_type == "code")
    for cell in deck.cells:
        if cell is setup or is_solution(cell):
            cell.metadata["slideshow"] = {"slide_type": "skip"}
    split_long_slides(deck.cells)
    return deck


def render(path: Path, out: Path) -> Page:
    notebook = nbformat.read(path, as_version=4)
    errors = [cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"{path.name}: cells {errors} hold an error output; run the chapter again and commit it")
    page = for_the_page(notebook)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(page)
    figures = EMBEDDED_PNG.findall(body)
    expected = figures_in(page)
    if len(figures) != expected:
        raise SystemExit(f"{path.name}: the page shows {len(figures)} figures of the chapter's {expected}")
    for number, encoded in enumerate(figures, start=1):
        check_png(encoded, f"{path.name}, figure {number}")
    (out / f"{path.stem}.html").write_text(body)

    deck, _ = SlidesExporter().from_notebook_node(for_the_deck(notebook))
    slide_cells = sum(cell.metadata.get("slideshow", {}).get("slide_type") == "slide" for cell in notebook.cells)
    slides = deck.count("<section")
    if slides < slide_cells + 1:  # the title slide, then one per cell marked "slide" (each nests its subslides)
        raise SystemExit(f"{path.name}: the deck has {slides} slides for {slide_cells + 1} slide cells")
    (out / "slides" / f"{path.stem}.slides.html").write_text(deck)
    return Page(path.name, chapter_title(notebook), expected, slides)


def index(pages: list[Page]) -> str:
    rows = "\n".join(
        f'<li><a href="{html.escape(Path(page.notebook).stem)}.html">{html.escape(page.title)}</a> — '
        f'<a href="slides/{html.escape(Path(page.notebook).stem)}.slides.html">slides</a> · '
        f'<a href="{html.escape(public_url.colab(page.notebook))}">open in Colab</a></li>' for page in pages)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>GAN Lessons</title></head><body>\n"
            "<h1>GAN Lessons</h1>\n<p>Generative adversarial networks with JAX, Flax and Optax: every chapter "
            "with the outputs of its full run.</p>\n<ol start=\"0\">\n" + rows + "\n</ol>\n</body></html>\n")


def build(out: Path, notebooks: list[Path] | None = None) -> list[Page]:
    (out / "slides").mkdir(parents=True, exist_ok=True)
    pages = [render(path, out) for path in (notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))]
    (out / "index.html").write_text(index(pages))
    return pages


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the site into")
    out = parser.parse_args(argv).out
    for page in build(out):
        print(f"{page.notebook:48s} {page.figures:3d} figures  {page.slides:3d} slides  {page.title}")
    print(f"wrote {out / 'index.html'}")


if __name__ == "__main__":
    main(sys.argv[1:])
