"""The three install files hold one range each for Python, jax, flax and optax; CI's tested versions lie in them.

pyproject.toml (what the chapters' setup cell installs on Colab), requirements.txt (README's first command) and
environment.yml (conda) drifted apart once: two capped jax below 0.11 while pyproject.toml had no cap, so a Colab
user got a jax no test had seen. README.md names the tested versions, from .ci/tested-versions.txt.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jax", "flax", "optax")


def pyproject_ranges() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = {"python": SpecifierSet(project["requires-python"])}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        ranges[requirement.name] = requirement.specifier
    return ranges


def requirements_ranges(text: str) -> dict[str, SpecifierSet]:
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    requirements = [Requirement(line) for line in lines if line]
    return {requirement.name: requirement.specifier for requirement in requirements}


def environment_ranges(text: str) -> dict[str, SpecifierSet]:
    """conda's ``- name>=a,<b`` lines of environment.yml's dependencies (the pip block is skipped)."""
    ranges = {}
    for match in re.finditer(r"^  - ([A-Za-z0-9_.-]+)((?:[<>=!]=?[^,\s]+,?)+)$", text, re.MULTILINE):
        ranges[match.group(1)] = SpecifierSet(match.group(2))
    return ranges


def tested_versions() -> dict[str, str]:
    text = (ROOT / ".ci" / "tested-versions.txt").read_text()
    return {name: str(next(iter(spec))).removeprefix("==") for name, spec in requirements_ranges(text).items()}


def test_the_three_install_files_hold_the_same_ranges():
    pyproject = pyproject_ranges()
    requirements = requirements_ranges((ROOT / "requirements.txt").read_text())
    environment = environment_ranges((ROOT / "environment.yml").read_text())
    assert pyproject["python"] == environment["python"] == SpecifierSet(">=3.11"), (pyproject["python"],
                                                                                    environment.get("python"))
    for name in PACKAGES:
        assert pyproject[name] == requirements[name] == environment[name], (name, pyproject[name],
                                                                            requirements[name], environment[name])
    assert environment["jaxlib"] == environment["jax"]  # conda installs jaxlib separately


def test_jax_has_no_upper_bound_so_a_preinstalled_newer_jax_is_kept():
    assert not any(spec.operator in ("<", "<=", "==", "~=") for spec in pyproject_ranges()["jax"])


def test_the_tested_versions_lie_in_the_ranges_and_readme_names_them():
    ranges, tested = pyproject_ranges(), tested_versions()
    assert set(tested) == {"jax", "jaxlib", "flax", "optax"}
    for name in PACKAGES:
        assert tested[name] in ranges[name], (name, tested[name], ranges[name])
    readme = (ROOT / "README.md").read_text()
    for name in PACKAGES:
        assert f"{name} {tested[name]}" in readme, f"README.md should name the tested {name} {tested[name]}"
    assert "Python 3.11 or newer" in readme and "3.10" not in readme


@pytest.mark.parametrize("text, caught", [
    ("jax>=0.10\nflax>=0.12.1,<0.13\noptax>=0.2,<0.3\n", False),
    ("jax>=0.7,<0.11\nflax>=0.12.1,<0.13\noptax>=0.2,<0.3\n", True),  # the drift this test was written for
    ("jax>=0.10\nflax>=0.12,<0.13\noptax>=0.2,<0.3\n", True),
])
def test_the_comparison_catches_a_range_that_drifted(text, caught):
    pyproject, requirements = pyproject_ranges(), requirements_ranges(text)
    assert any(pyproject[name] != requirements[name] for name in PACKAGES) == caught
