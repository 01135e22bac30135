"""The course's public address, written in one place: ``[project.urls] Repository`` in pyproject.toml.

Everything else derives from it: the clone address, the Colab link of each chapter, the raw-file address a
chapter fetches its recorded results from, and the ``git+https`` address the chapters' setup cell installs the
library from. README.md and the notebooks type these addresses out (a reader sees them there);
tests/test_public_url.py checks that every one of them is the one derived here.

    python tools/public_url.py                 # prints the repository and the addresses derived from it
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GITHUB = "https://github.com/"
BRANCH = "main"


@cache
def repository() -> str:
    """``https://github.com/<owner>/<name>``, as pyproject.toml states it."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        address = tomllib.load(file)["project"]["urls"]["Repository"]
    owner_name = address.removeprefix(GITHUB).split("/")
    if not address.startswith(GITHUB) or len(owner_name) != 2 or not all(owner_name):
        raise ValueError(f"pyproject.toml: [project.urls] Repository should be {GITHUB}<owner>/<name>, not {address}")
    return address


def owner_and_name() -> str:
    """``<owner>/<name>`` of the repository on GitHub."""
    return repository().removeprefix(GITHUB)


def folder() -> str:
    """The folder ``git clone`` makes: the repository's name."""
    return owner_and_name().split("/")[1]


def pip_address() -> str:
    """What ``pip install "gan_lessons @ <this>"`` installs from: the repository's default branch."""
    return f"git+{repository()}"


def colab(notebook: str = "") -> str:
    """The Colab link of ``notebook`` (a file name in notebooks/); without one, the links' common beginning."""
    return f"https://colab.research.google.com/github/{owner_and_name()}/blob/{BRANCH}/notebooks/{notebook}"


def raw(path: str = "") -> str:
    """The address of a committed file (``path`` from the repository root) as GitHub serves it raw."""
    return f"https://raw.githubusercontent.com/{owner_and_name()}/{BRANCH}/{path}"


if __name__ == "__main__":
    for name, address in [("repository", repository()), ("pip", pip_address()), ("colab", colab()), ("raw", raw())]:
        print(f"{name:10s} {address}")
