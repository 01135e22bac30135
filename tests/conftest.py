import os
from pathlib import Path

import jax
import pytest

from gan_lessons import data

REPOSITORY = Path(__file__).resolve().parents[1]

# The tests must never reuse a PRNG key by accident.
jax.config.update("jax_debug_key_reuse", True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """A folder holding the real IDX files.

    $GAN_LESSONS_DATA or ../shared/data beside the repository (CI, this workplace); otherwise the library's
    own search, which downloads the files into the per-user cache on a machine with internet.
    """
    folder = Path(os.environ.get("GAN_LESSONS_DATA", REPOSITORY.parent / "shared" / "data"))
    if (folder / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        return folder
    try:
        for dataset in (data.MNIST_FILES, data.FASHION_MNIST_FILES):
            paths = [data.locate_file(dataset, name) for name in dataset.files]
        return paths[0].parents[1]
    except data.DataNotFoundError as error:
        pytest.fail(f"the dataset files are needed for these tests:\n{error}")
