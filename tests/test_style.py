"""The code style is part of the contract: ruff must find nothing in the library, tests and notebooks."""

import subprocess
import sys
from pathlib import Path

import pytest

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

REPOSITORY = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                            cwd=REPOSITORY, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
