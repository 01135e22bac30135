"""Helpers for the chapters: the smoke setting, the environment report, exercise checks, a spread over seeds,
the recorded results of runs too long for a chapter."""

from __future__ import annotations

import http.client
import inspect
import json
import os
import platform
import statistics
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from gan_lessons.exercises import check_answer as check_answer  # the chapters import it from here


def _is_set(variable: str) -> bool:
    return os.environ.get(variable, "").lower() not in ("", "0", "false", "no")


def smoke_mode() -> bool:
    """True when ``CI`` or ``GAN_LESSONS_QUICK`` is set: chapters then run fewer steps along the same code path.

    CI sets ``CI``; an instructor presenting live sets ``GAN_LESSONS_QUICK=1`` (README, "For instructors").
    """
    return _is_set("CI") or _is_set("GAN_LESSONS_QUICK")


OUT_OF_ORDER_HINT = ("it is made by an earlier cell of this chapter that has not run in this kernel (a restarted "
                     "kernel forgets everything). Run the cells above this one first: Run > Run All Above Selected "
                     "Cell.")


def _explain_undefined_name(shell, exception_type, exception, traceback, tb_offset=None):
    """IPython's handler for a NameError in a cell: the usual traceback, with what to do added."""
    name = getattr(exception, "name", None)
    if name and not str(exception).endswith(OUT_OF_ORDER_HINT):
        exception.args = (f"{exception}: {OUT_OF_ORDER_HINT}",)
    structured = shell.InteractiveTB.structured_traceback(exception_type, exception, traceback, tb_offset=tb_offset)
    shell._showtraceback(exception_type, exception, structured)
    return structured


def explain_out_of_order_cells() -> bool:
    """In a notebook, make a NameError say that an earlier cell has not run yet, and what to do.

    The cheapest out-of-order run to detect: a cell uses a name an earlier cell defines. Returns
    whether it is installed (False outside IPython).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NameError,), _explain_undefined_name)
    return True


def report_environment() -> str:
    """Print (and return) the Python, JAX, Flax and Optax versions and the device JAX will use.

    Every chapter calls it in its first cell, so it also installs ``explain_out_of_order_cells``.
    """
    import flax
    import jax
    import optax

    explain_out_of_order_cells()

    device = jax.devices()[0]
    line = (f"Python {platform.python_version()} | jax {jax.__version__} | flax {flax.__version__} | "
            f"optax {optax.__version__} | device: {device.platform} ({device.device_kind}), "
            f"{jax.device_count()} device(s) | smoke mode: {smoke_mode()}")
    print(line)
    return line


def show_source(*objects):
    """The library's own code for ``objects`` (classes or functions), to end a cell with: the notebook shows it
    highlighted. Where a chapter teaches what the library computes, the page shows the code that computes it,
    not a call whose inside is hidden."""
    from IPython.display import Code  # here: importing the library never needs IPython

    return Code("\n\n".join(textwrap.dedent(inspect.getsource(item)) for item in objects), language="python")


def mean_sd(values, digits: int = 3) -> str:
    """"mean ± SD" of a result over seeds (or draws), the sample SD (n − 1): how every chapter prints a spread."""
    values = [float(value) for value in values]
    if len(values) < 2:
        raise ValueError(f"a spread needs at least 2 values, got {len(values)}: run more seeds")
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


# Where the chapters' recorded runs live in the course's repository, as GitHub serves them raw
RECORDED_RESULTS = "https://raw.githubusercontent.com/gan-lessons/gan-lessons/main/notebooks/results/"


def recorded_results(name: str, address: str = RECORDED_RESULTS) -> dict:
    """A record of runs too long for a chapter (``notebooks/results/<name>``, JSON): read from ``results/``
    beside the notebook in a clone, else fetched from ``address`` (on Colab, where only the notebook is)."""
    beside = Path("results") / name
    if beside.is_file():
        return json.loads(beside.read_text(encoding="utf-8"))
    try:
        with urllib.request.urlopen(address + name, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:  # the server answered, without the file
        raise FileNotFoundError(f"{beside} is not beside this notebook and {address + name} answered {error.code} "
                                f"({error.reason}): run the chapter from a clone of the course (its notebooks/ "
                                "folder)") from error
    except (OSError, http.client.HTTPException, ValueError) as error:  # no connection, or not the JSON file
        raise FileNotFoundError(f"{beside} is not beside this notebook and {address + name} could not be read "
                                f"({error!r}): run the chapter from a clone of the course (its notebooks/ folder), "
                                "or connect to the internet") from error
