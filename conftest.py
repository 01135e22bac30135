"""Every chapter runs twice in one kernel: "Run All" again must give the same results.

nbval runs each notebook's cells in a fresh kernel (comparing the cells marked ``# NBVAL_CHECK_OUTPUT``
with the stored outputs). This hook then appends a second pass over the same cells, in the same
kernel, as an instructor re-running a chapter in front of a class would, and compares what each cell
prints (its stdout and its text results) with what the first, fresh-kernel pass printed. Each cell's
asserts run again too. Progress bars and warnings (stderr), images, and numbers that are timings are
left out of the comparison: they differ between any two runs.

``GAN_LESSONS_SECOND_RUN`` picks the chapters that run twice (default: all); ``.ci/run`` names the ones
that fit CI's 20 minutes.
"""

from __future__ import annotations

import difflib
import os
import re
from collections import defaultdict

import pytest

# The suite runs as two test processes on two cores (README: -n 2), each with its chapters' kernels. NumPy's OpenBLAS
# and scikit-learn's OpenMP threads busy-wait for work, and with a second process busy, chapter 08 took 200 s in
# smoke mode against 54 s with one such thread per process (measured with the same second process running). XLA
# keeps its own thread pool. Set here, before the test processes start, so they and their kernels inherit it.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval not installed: nothing to collect
    IPyNbCell = None

# A line that reports a time, a rate or a speed-up differs between any two runs: its numbers are masked.
TIMING_LINE = re.compile(r"images/s|img/s|it/s|steps/s|\bsec|\bs\b|\bms\b|\bmin\b|×|\d(\.\d+)?x\b|speed|compile",
                         re.IGNORECASE)
NUMBER = re.compile(r"\d[\d,]*(\.\d+)?(e[-+]?\d+)?")
ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def masked(line: str) -> str:
    line = ADDRESS.sub("<address>", line)
    if TIMING_LINE.search(line):
        line = " ".join(NUMBER.sub("<n>", line).split())
    return line


def printed(outputs) -> str:
    """What a cell printed, as one string: stdout and text/plain results, with timings masked."""
    parts = []
    for output in outputs or []:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output["text"])
        elif output.get("output_type") in ("execute_result", "display_data"):
            text = output.get("data", {}).get("text/plain", "")
            if not text.startswith(("<Figure", "<IPython.core.display", "<matplotlib")):
                parts.append(text)
    return "\n".join(masked(line) for line in "".join(parts).splitlines())


if IPyNbCell is not None:
    class SecondRunCell(IPyNbCell):
        """A cell run again after the whole notebook ran once in the same kernel."""

        def __init__(self, name, parent, cell_num, cell, options, first_run):
            super().__init__(name, parent, cell_num, cell, options)
            self.first_run = first_run

        def runtest(self):
            self.options = defaultdict(bool, {**self.first_run.options, "check": False})
            super().runtest()
            if self.first_run.test_outputs is None:
                pytest.fail("the first run of this cell did not complete, so there is nothing to compare with")
            first, second = printed(self.first_run.test_outputs), printed(self.test_outputs)
            if first != second:
                diff = "\n".join(difflib.unified_diff(first.splitlines(), second.splitlines(), "first Run All",
                                                      "second Run All in the same kernel", lineterm=""))
                self.raise_cell_error("Run All a second time in the same kernel printed something else", diff)

        def reportinfo(self):
            path, line, description = super().reportinfo()
            return path, line, description + " (second Run All)"


def second_run_wanted(notebook_name: str) -> bool:
    """``GAN_LESSONS_SECOND_RUN``: unset or "all", every chapter; else the chapter numbers to run twice ("00 04")."""
    wanted = os.environ.get("GAN_LESSONS_SECOND_RUN", "all").split()
    return wanted == ["all"] or notebook_name[:2] in wanted


def pytest_collection_modifyitems(session, config, items):
    """After the last cell of each notebook, the same cells again (same kernel: same parent collector)."""
    if IPyNbCell is None:
        return
    by_notebook = defaultdict(list)
    for item in items:
        if type(item) is IPyNbCell and second_run_wanted(item.parent.path.name):
            by_notebook[item.parent].append(item)
    for notebook, cells in by_notebook.items():
        position = items.index(cells[-1]) + 1
        again = [SecondRunCell.from_parent(notebook, name=f"{cell.name} (second Run All)", cell_num=cell.cell_num,
                                           cell=cell.cell, options=cell.options, first_run=cell) for cell in cells]
        items[position:position] = again
    # The chapters first: each is one long unit of work (up to minutes), and with ``--dist loadfile`` the test
    # processes take files in this order, so the many short test files fill in at the end instead of a chapter
    # starting last and running alone. A stable sort keeps every chapter's cells in order.
    items.sort(key=lambda item: not isinstance(item, IPyNbCell))
