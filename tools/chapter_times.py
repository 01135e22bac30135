"""How long each chapter takes, read from the committed notebooks: what an instructor plans a session with.

    python tools/chapter_times.py                       # the full runs, from the notebooks' own timestamps
    python tools/chapter_times.py --durations ci.log    # and the quick (CI=1) setting, from pytest --durations=0
    python tools/chapter_times.py --write-openings      # each chapter's opening "Time:" line, from the same sums

Each committed chapter carries the outputs of a full run, and Jupyter stamps every cell with when it started
and finished; the sum is the chapter's run time on the machine that ran it (our 2-core CPU machine). Cells
over a minute are named, with whether they train or load a shipped checkpoint. The quick setting is what CI
runs (``CI=1``); its times come from a pytest log, first run only.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LONG_CELL_SECONDS = 60
DURATION = re.compile(r"^\s*([\d.]+)s (?:setup|call|teardown)\s+notebooks/(\S+\.ipynb)::Cell \d+(.*)$")


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_seconds(notebook_path: Path) -> list[tuple[int, float, str]]:
    """(the cell's [number] in Jupyter, seconds, source) for each code cell of a committed chapter."""
    cells = [cell for cell in json.loads(notebook_path.read_text())["cells"] if cell["cell_type"] == "code"]
    timed = []
    for number, cell in enumerate(cells):
        stamps = cell["metadata"].get("execution", {})
        if "iopub.execute_input" not in stamps or "shell.execute_reply" not in stamps:
            raise SystemExit(f"{notebook_path.name}: code cell {number} has no execution time; run the chapter "
                             "with nbconvert --execute (or Jupyter) and commit it with its outputs")
        seconds = (_stamp(stamps["shell.execute_reply"]) - _stamp(stamps["iopub.execute_input"])).total_seconds()
        timed.append((cell.get("execution_count") or number + 1, seconds, "".join(cell["source"])))
    return timed


def total_seconds(notebook_path: Path) -> float:
    """A committed chapter's full-run time: the sum of its code cells' times."""
    return sum(seconds for _, seconds, _ in cell_seconds(notebook_path))


def describe(source: str) -> str:
    """Whether the cell trains or evaluates, whether it loads a shipped checkpoint, and its first line."""
    first = next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")
    what = "trains" if re.search(r"\b(train\w*|run_\w+|my_run)\(", source) else "evaluates"
    if "pretrained.load" in source:
        what += " (loads a shipped checkpoint)"
    return f"{what}: `{first.strip()[:50]}`"


def quick_seconds(log: Path) -> dict[str, float]:
    """The first ("Run All" once) pass of each chapter in a pytest --durations=0 log."""
    totals: dict[str, float] = defaultdict(float)
    for line in log.read_text().splitlines():
        match = DURATION.match(line)
        if match and "second Run All" not in match.group(3):
            totals[match.group(2)] += float(match.group(1))
    return totals


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def table(quick: dict[str, float] | None = None) -> str:
    rows = ["| chapter | full run (2-core CPU) | quick setting, `CI=1` | cells over a minute in the full run |",
            "|---|---|---|---|"]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = cell_seconds(path)
        long = [f"[{number}] {minutes(seconds)}, {describe(source)}"
                for number, seconds, source in cells if seconds >= LONG_CELL_SECONDS]
        quick_time = minutes(quick[path.name]) if quick and path.name in quick else "–"
        rows.append(f"| {path.stem[:2]} | {minutes(sum(seconds for _, seconds, _ in cells))} | {quick_time} | "
                    f"{'<br>'.join(long) or 'none'} |")
    return "\n".join(rows)


OPENING = "{time} to run on our 2-core CPU test machine (this committed run, summed from its cells' timestamps; " \
          "not yet timed on a GPU)"
_OPENING = re.compile(r"(\*\*Time:\*\* ).*? to run on our 2-core CPU test machine \(this committed run, summed from "
                      r"its cells' timestamps; not yet timed on a GPU\)")


def opening(notebook_path: Path) -> str:
    """The run time a chapter's opening states: the committed full run's, so it cannot go stale."""
    return OPENING.format(time=minutes(total_seconds(notebook_path)))


def write_opening(notebook_path: Path) -> bool:
    """Rewrite the opening's run time from the cells' timestamps; True if it changed."""
    import nbformat

    from gan_lessons.files import atomic_file

    notebook = nbformat.read(notebook_path, as_version=4)
    first = notebook.cells[0]
    updated = _OPENING.sub(lambda match: match.group(1) + opening(notebook_path), first.source, count=1)
    if updated == first.source:
        return False
    first.source = updated
    with atomic_file(notebook_path, "w") as file:  # a crash mid-write must not leave half a chapter
        nbformat.write(notebook, file)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=Path, help="a pytest log with --durations=0 from CI")
    parser.add_argument("--write-openings", action="store_true", help="rewrite each chapter's opening run time")
    arguments = parser.parse_args(argv)
    if arguments.write_openings:
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            print(f"{path.name}: {'updated' if write_opening(path) else 'unchanged'}")
    print(table(quick_seconds(arguments.durations) if arguments.durations else None))


if __name__ == "__main__":
    main()
