"""The first cell of every chapter installs the course library where it is missing (Colab, a fresh kernel).

The cell is run here, in IPython as a notebook runs it, in a fresh virtual environment that has what
requirements.txt gives (this environment's packages, reached through a ``.pth`` file) but not
``gan_lessons``. There is no internet here, so the cell's ``git+https`` address is pointed at this clone;
everything else about the cell is as the chapters have it. pip runs with ``--no-index``: if the library's
version ranges did not accept what is already installed (as Colab's preinstalled JAX is), pip would have
to download something, and the install would fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import public_url  # noqa: E402

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GIT_ADDRESS = public_url.pip_address()  # the course's repository, from pyproject.toml


def install_block(notebook: Path) -> str:
    """The install part of a chapter's setup cell: from its first line to the ``%pip install`` line."""
    cells = json.loads(notebook.read_text())["cells"]
    source = "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])
    lines = source.splitlines()
    end = next(number for number, line in enumerate(lines) if line.strip().startswith("%pip install"))
    return "\n".join(lines[:end + 1]) + "\n"


def test_every_chapter_has_the_same_install_cell_pointing_at_the_repository():
    blocks = {notebook.name: install_block(notebook) for notebook in CHAPTERS}
    assert len(blocks) == 12 and len(set(blocks.values())) == 1, "the chapters' install cells differ"
    assert f'%pip install -q "gan_lessons @ {GIT_ADDRESS}"' in next(iter(blocks.values()))


@pytest.fixture
def fresh_environment(tmp_path) -> Path:
    """A new virtual environment that sees this one's packages but has no ``gan_lessons`` of its own."""
    folder = tmp_path / "venv"
    venv.create(folder, with_pip=False)
    site_packages = next(folder.glob("lib/python*/site-packages"))
    # A path line in a .pth file adds the folder but does not run the .pth files inside it, so this
    # environment's editable install of gan_lessons (itself a .pth file) is not seen there.
    (site_packages / "requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder


def run_setup_cell(environment: Path, folder: Path, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with IPython (so ``%pip`` works as in a notebook) from ``folder``, in ``environment``."""
    script = folder / "cell.ipy"
    script.write_text(code)
    variables = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # no download: what the install needs must already be there; and the local source builds with the
    # setuptools already installed instead of fetching one into a build environment
    variables.update(PIP_NO_INDEX="1", PIP_FIND_LINKS="", PIP_NO_BUILD_ISOLATION="0", PYTHONNOUSERSITE="1")
    return subprocess.run([str(environment / "bin" / "python"), "-m", "IPython", "--no-banner", "--colors=NoColor",
                           str(script)], cwd=folder, env=variables, capture_output=True, text=True, timeout=300)


REPORT = """
import gan_lessons
from gan_lessons import pretrained
print("library at", gan_lessons.__file__)
print("checkpoints", len(pretrained.available()))
"""


def source_copy(folder: Path) -> Path:
    """What pip fetches from the repository, copied, so that building it leaves this clone untouched."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "gan_lessons", folder / "gan_lessons", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_the_setup_cell_installs_the_library_and_its_checkpoints_and_nothing_else(fresh_environment, tmp_path):
    """Colab: no clone beside the notebook, no library: the cell installs it (here from this clone)."""
    (tmp_path / "repository").mkdir()
    source = source_copy(tmp_path / "repository")
    cell = install_block(CHAPTERS[0]).replace(GIT_ADDRESS, source.as_uri())
    assert source.as_uri() in cell
    (tmp_path / "notebooks").mkdir()
    ran = run_setup_cell(fresh_environment, tmp_path / "notebooks", cell + REPORT)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    site_packages = next(fresh_environment.glob("lib/python*/site-packages"))
    assert f"library at {site_packages}" in ran.stdout, ran.stdout
    assert f"checkpoints {len(list((ROOT / 'gan_lessons' / 'checkpoints').glob('*.ckpt')))}" in ran.stdout
    # what pip added to the fresh environment: the course library alone, no dependency
    installed = sorted(path.name.split("-")[0] for path in site_packages.glob("*.dist-info"))
    assert installed == ["gan_lessons"], installed
    # run again, as a second Run All does: the library is found, nothing is installed twice
    again = run_setup_cell(fresh_environment, tmp_path / "notebooks", cell + REPORT)
    assert again.returncode == 0 and f"library at {site_packages}" in again.stdout, again.stdout + again.stderr
    assert "Successfully installed" not in again.stdout + again.stderr


def test_in_a_clone_the_setup_cell_uses_the_library_in_place(fresh_environment, tmp_path):
    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    (clone / "gan_lessons").symlink_to(ROOT / "gan_lessons", target_is_directory=True)
    cell = install_block(CHAPTERS[0]).replace(GIT_ADDRESS, "git+https://no-such-host.invalid/must-not-be-used")
    ran = run_setup_cell(fresh_environment, clone / "notebooks", cell + REPORT)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"library at {clone / 'gan_lessons' / '__init__.py'}" in ran.stdout, ran.stdout
    assert "no-such-host" not in ran.stdout + ran.stderr


def test_the_fresh_environment_really_lacks_the_library(fresh_environment, tmp_path):
    """Without this, the two tests above could pass on an environment that already had it."""
    ran = subprocess.run([str(fresh_environment / "bin" / "python"), "-c",
                          "import importlib.util, jax; print(importlib.util.find_spec('gan_lessons'))"],
                         cwd=tmp_path, capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert ran.returncode == 0 and ran.stdout.strip() == "None", ran.stdout + ran.stderr
    assert sys.prefix != str(fresh_environment)


def newer_jax_metadata(environment: Path, version: str) -> None:
    """Make ``environment`` report jax ``version``: this environment's jax metadata, renumbered, in the fresh
    environment's own site-packages (found before the shared one). The package index reached here offers no jax
    newer than the tested one, so a newer preinstalled JAX (Colab's) is stood in for by its version number:
    that number is all pip weighs when it decides whether to replace it."""
    from importlib.metadata import distribution

    real = distribution("jax")
    site_packages = next(environment.glob("lib/python*/site-packages"))
    copy = site_packages / f"jax-{version}.dist-info"
    shutil.copytree(Path(real._path), copy)  # this environment's jax-<version>.dist-info
    metadata = (copy / "METADATA").read_text()
    (copy / "METADATA").write_text(metadata.replace(f"\nVersion: {real.version}\n", f"\nVersion: {version}\n", 1))


def test_the_setup_cell_keeps_a_newer_preinstalled_jax(fresh_environment, tmp_path):
    """Colab's GPU JAX may be newer than any this course was tested with: installing the course must not
    downgrade it (pip runs without an index here, so any attempt to change jax would fail the install)."""
    newer_jax_metadata(fresh_environment, "0.99.0")
    (tmp_path / "repository").mkdir()
    source = source_copy(tmp_path / "repository")
    cell = install_block(CHAPTERS[0]).replace(GIT_ADDRESS, source.as_uri())
    (tmp_path / "notebooks").mkdir()
    report = REPORT + "from importlib.metadata import version\nprint('jax', version('jax'))\n"
    ran = run_setup_cell(fresh_environment, tmp_path / "notebooks", cell + report)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "jax 0.99.0" in ran.stdout and "checkpoints" in ran.stdout, ran.stdout + ran.stderr
