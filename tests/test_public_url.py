"""The course's public address is written in one place, pyproject.toml's ``[project.urls] Repository``.

README.md and the chapters type it out (the clone command, the Colab badges, the setup cell's ``git+https``
install, the raw address the chapters fetch their recorded runs from): each of those must be the address derived
from pyproject.toml (tools/public_url.py). The code in tools/ and tests/ must not type it at all: it reads it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import public_url  # noqa: E402

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# this file's own examples of wrong addresses (the last test) are the one exception
CODE = sorted(path for path in [*(ROOT / "tools").glob("*.py"), *(ROOT / "tests").glob("*.py")]
              if path != Path(__file__).resolve())
TEXT = sorted([*ROOT.glob("*.md"), *(ROOT / "benchmarks").glob("*.md"), *(ROOT / "docs").glob("**/*.md"),
               *(ROOT / "gan_lessons").glob("**/*.py"), *(ROOT / "benchmarks").glob("*.py"), ROOT / "conftest.py",
               ROOT / "requirements.txt", ROOT / "environment.yml", ROOT / ".ci" / "run"])

ADDRESS = re.compile(r"(?:git\+)?https?://[^\s\"'`<>()\[\]{}|\\]+")
COURSE_NAME = re.compile(r"gan[-_. ]?lesson", re.IGNORECASE)  # an owner or repository named like the course


def addresses(text: str) -> list[str]:
    return [address.rstrip(".,;:") for address in ADDRESS.findall(text)]


def is_the_courses(address: str, text: str) -> bool:
    """An address of the course: named like it, a Colab link to a notebook on GitHub, or what pip installs it from."""
    return bool(COURSE_NAME.search(address) or re.search(r"colab\.research\.google\.com/github/[\w.-]+/", address)
                or re.search(r"gan_lessons\s*@\s*" + re.escape(address), text))


def wrong(address: str) -> bool:
    """True unless ``address`` is one of the forms tools/public_url.py derives from pyproject.toml."""
    repository = public_url.repository()
    if address in (repository, repository + ".git", public_url.pip_address()):
        return False
    if address.startswith(repository + "/"):  # an issue, a file, a tree of the repository
        return False
    if address.startswith(public_url.colab()):
        return not (ROOT / "notebooks" / address.removeprefix(public_url.colab())).is_file()
    if address == public_url.raw("notebooks/results/"):  # notebook.recorded_results: its files are checked below
        return False
    if address.startswith(public_url.raw()):
        return not (ROOT / address.removeprefix(public_url.raw())).is_file()
    return True


def wrong_addresses(text: str) -> list[str]:
    return [address for address in addresses(text) if is_the_courses(address, text) and wrong(address)]


def chapter_sources(notebook: Path) -> str:
    """Every cell's source (the outputs are what ran, not what a reader follows)."""
    return "\n".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])


def test_pyproject_states_a_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", public_url.repository())


def test_readme_starts_from_a_clone_of_the_repository():
    readme = (ROOT / "README.md").read_text()
    first_command = re.search(r"```bash\n(.*?)\n", readme).group(1)
    assert first_command.startswith(f"git clone {public_url.repository()} && cd {public_url.folder()} && "), \
        first_command


@pytest.mark.parametrize("path", [path for path in TEXT if path.exists()], ids=lambda path: str(path.relative_to(ROOT)))
def test_every_address_of_the_course_in_the_prose_and_the_library_is_the_one_in_pyproject(path):
    found = wrong_addresses(path.read_text())
    assert not found, f"{path.relative_to(ROOT)}: {found} differ from pyproject.toml's {public_url.repository()}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem[:2])
def test_every_chapters_badge_and_install_cell_use_the_address_in_pyproject(notebook):
    text = chapter_sources(notebook)
    assert f"({public_url.colab(notebook.name)})" in text, "the Colab badge"
    assert f'"gan_lessons @ {public_url.pip_address()}"' in text, "the setup cell's install"
    found = wrong_addresses(text)
    assert not found, f"{notebook.name}: {found} differ from pyproject.toml's {public_url.repository()}"


@pytest.mark.parametrize("path", CODE, ids=lambda path: str(path.relative_to(ROOT)))
def test_code_reads_the_address_instead_of_typing_it(path):
    typed = [address for address in addresses(path.read_text()) if is_the_courses(address, path.read_text())]
    assert not typed, f"{path.name}: use tools/public_url.py (pyproject.toml) instead of {typed}"


@pytest.mark.parametrize("text, found", [
    ("[badge](https://colab.research.google.com/github/someone/else/blob/main/notebooks/00_jax_for_gans.ipynb)", 1),
    ('%pip install -q "gan_lessons @ git+https://gitlab.com/fork/course"', 1),
    ("git clone https://github.com/gan-lesson/gan-lessons && cd gan-lessons", 1),
    ("see https://github.com/jax-ml/jax/issues/12868 and git+https://no-such-host.invalid/x", 0),
])
def test_the_check_sees_other_addresses_of_the_course(text, found):
    assert len(wrong_addresses(text)) == found


def test_the_records_the_chapters_fetch_are_committed_where_the_library_fetches_them():
    import subprocess

    from gan_lessons import notebook

    assert notebook.RECORDED_RESULTS == public_url.raw("notebooks/results/")
    names = {name for chapter in CHAPTERS
             for name in re.findall(r"recorded_results\(\"([^\"]+)\"", chapter_sources(chapter))}
    tracked = subprocess.run(["git", "ls-files", "notebooks/results"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert names and all(f"notebooks/results/{name}" in tracked for name in names), (names, tracked)
