import os
from pathlib import Path

import jax
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]

# The tests must never reuse a PRNG key by accident.
jax.config.update("jax_debug_key_reuse", True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real IDX files: $GAN_LESSONS_DATA, or ../shared/data beside the repository."""
    folder = Path(os.environ.get("GAN_LESSONS_DATA", REPOSITORY.parent / "shared" / "data"))
    if not (folder / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"the MNIST files are not in {folder}; set GAN_LESSONS_DATA to the data folder")
    return folder
