"""Datasets: MNIST and Fashion-MNIST from their IDX files, batches, toy distributions.

Images come back as float32 in [-1, 1] with shape (N, 28, 28, 1) (channels last,
as Flax's convolutions expect) so that a generator with a tanh output can match
them; labels as int32.

Where the files are looked for, in order:
1. the ``data_dir`` argument,
2. the folder in the ``GAN_LESSONS_DATA`` environment variable,
3. a per-user cache folder (``$XDG_CACHE_HOME/gan_lessons`` or ``~/.cache/gan_lessons``).
Each holds ``mnist/`` and ``fashion_mnist/`` with the original gzip'd files.
A file found nowhere is downloaded (verified against its pinned SHA-256) into
the first of those folders that can be written to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from gan_lessons.download import DownloadError, download_verified, sha256_of_file
from gan_lessons.idx import read_idx_file

ENVIRONMENT_VARIABLE = "GAN_LESSONS_DATA"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetFiles:
    folder: str
    files: dict[str, str]  # file name -> SHA-256
    mirrors: tuple[str, ...]  # base URLs, tried in order
    sizes: dict[str, int]  # file name -> bytes: a download is cut off past its file's size


MNIST_FILES = DatasetFiles(
    folder="mnist",
    files={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://raw.githubusercontent.com/fgnt/mnist/master/",
    ),
    sizes={"train-images-idx3-ubyte.gz": 9_912_422, "train-labels-idx1-ubyte.gz": 28_881,
           "t10k-images-idx3-ubyte.gz": 1_648_877, "t10k-labels-idx1-ubyte.gz": 4_542},
)

FASHION_MNIST_FILES = DatasetFiles(
    folder="fashion_mnist",
    files={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    mirrors=(
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    sizes={"train-images-idx3-ubyte.gz": 26_421_880, "train-labels-idx1-ubyte.gz": 29_515,
           "t10k-images-idx3-ubyte.gz": 4_422_102, "t10k-labels-idx1-ubyte.gz": 5_148},
)

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


class DataNotFoundError(FileNotFoundError):
    """A dataset file is in none of the folders searched and could not be downloaded."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gan_lessons"


def search_folders(data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for dataset files, in order."""
    folders = []
    if data_dir is not None:
        folders.append(Path(data_dir))
    if os.environ.get(ENVIRONMENT_VARIABLE):
        folders.append(Path(os.environ[ENVIRONMENT_VARIABLE]))
    folders.append(default_cache_dir())
    return folders


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def locate_file(
    dataset: DatasetFiles,
    file_name: str,
    data_dir: str | Path | None = None,
    mirrors: tuple[str, ...] | None = None,
) -> Path:
    """Return a verified local path for one dataset file, downloading it if needed."""
    expected_sha256 = dataset.files[file_name]
    folders = search_folders(data_dir)
    for folder in folders:
        path = folder / dataset.folder / file_name
        if path.is_file():
            actual = sha256_of_file(path)
            if actual != expected_sha256:
                raise ValueError(
                    f"{path} is damaged: its SHA-256 is {actual}, expected {expected_sha256}. "
                    "Delete it and run again to download a fresh copy."
                )
            return path
    targets = [folder for folder in folders if _writable(folder)]
    urls = [base + file_name for base in (mirrors or dataset.mirrors)]
    searched = "\n".join(f"  {folder / dataset.folder}" for folder in folders)
    if targets:
        try:
            return download_verified(urls, targets[0] / dataset.folder / file_name, expected_sha256,
                                     max_bytes=dataset.sizes[file_name])
        except DownloadError as error:
            reason = str(error)
    else:
        reason = "none of the folders searched can be written to"
    raise DataNotFoundError(
        f"{dataset.folder}/{file_name} was not found and could not be downloaded.\n"
        f"Folders searched:\n{searched}\n"
        f"Download attempts: {reason}\n"
        f"To place the files by hand, put the original gzip'd IDX files in "
        f"<folder>/{dataset.folder}/ and either pass data_dir=<folder> or set "
        f"{ENVIRONMENT_VARIABLE}=<folder>."
    )


def _load(dataset: DatasetFiles, split: str, data_dir, mirrors) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    image_path = locate_file(dataset, f"{prefix}-images-idx3-ubyte.gz", data_dir, mirrors)
    label_path = locate_file(dataset, f"{prefix}-labels-idx1-ubyte.gz", data_dir, mirrors)
    raw_images = read_idx_file(image_path)
    raw_labels = read_idx_file(label_path)
    if raw_images.ndim != 3 or raw_images.dtype != np.uint8:
        raise ValueError(
            f"{image_path}: expected uint8 images of shape (N, rows, cols), got {raw_images.dtype} {raw_images.shape}"
        )
    if raw_labels.ndim != 1 or len(raw_labels) != len(raw_images):
        raise ValueError(f"{label_path}: expected {len(raw_images)} labels, got shape {raw_labels.shape}")
    if raw_labels.max() > 9:
        raise ValueError(f"{label_path}: labels must be 0..9, found {int(raw_labels.max())}")
    images = (raw_images.astype(np.float32) / 127.5 - 1.0)[..., None]  # (N, 28, 28, 1) in [-1, 1]
    return images, raw_labels.astype(np.int32)


def load_mnist(split: str = "train", data_dir: str | Path | None = None, mirrors=None):
    """MNIST digits: images float32 (N, 28, 28, 1) in [-1, 1], labels int32 (N,)."""
    return _load(MNIST_FILES, split, data_dir, mirrors)


def load_fashion_mnist(split: str = "train", data_dir: str | Path | None = None, mirrors=None):
    """Fashion-MNIST articles: images float32 (N, 28, 28, 1) in [-1, 1], labels int32 (N,)."""
    return _load(FASHION_MNIST_FILES, split, data_dir, mirrors)


def to_unit_interval(images):
    """Map images from [-1, 1] back to [0, 1] for display."""
    return (images + 1.0) / 2.0


def epoch_batches(key: jax.Array, arrays, batch_size: int):
    """One epoch of shuffled batches, stacked: each array becomes (steps, batch_size, ...).

    The permutation comes from ``key``, so the same key gives the same batches.
    The last partial batch is dropped so every step has the same shape (one compile).
    """
    arrays = arrays if isinstance(arrays, tuple) else (arrays,)
    count = len(arrays[0])
    steps = count // batch_size
    if steps == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the {count} examples given")
    order = np.asarray(jax.random.permutation(key, count))[: steps * batch_size]
    stacked = tuple(np.asarray(a)[order].reshape(steps, batch_size, *np.shape(a)[1:]) for a in arrays)
    return stacked if len(stacked) > 1 else stacked[0]


VALIDATION_SEED = 1234  # one split for every run, whatever the run's own seed


def validation_split(images, labels, count: int = 10_000):
    """((kept images, kept labels), (held-out images, held-out labels)): ``count`` training examples set aside.

    The same examples for every call (a permutation from ``VALIDATION_SEED``), so runs with different seeds and
    settings are compared on one validation split, carved from the training set: choices are made there, and the
    test set is scored once, at the end.
    """
    if not 0 < count < len(images):
        raise ValueError(f"count must be between 1 and {len(images) - 1} (the training examples given), got {count}")
    order = np.asarray(jax.random.permutation(jax.random.key(VALIDATION_SEED), len(images)))
    held_out, kept = order[:count], order[count:]
    return (images[kept], labels[kept]), (images[held_out], labels[held_out])


def affine_warp(images, angles, scales, offsets, shears=None):
    """Rotate each image by ``angles`` (radians, clockwise as shown: rows run down), scale it by ``scales``
    and move it by ``offsets`` (pixels: rows down, columns right), about the image centre; bilinear,
    background −1. ``shears`` (optional) slants each image first: a pixel ``row`` rows below the centre moves
    ``shear · row`` columns to the right, so a shear of 0.3 turns a vertical stroke into one leaning left.

    Output pixel p (from the centre) reads the input at R(−θ)·S(−shear)·p / s + centre − offset.
    images (B, H, W, 1), angles (B,), scales (B,), offsets (B, 2), shears (B,) → (B, H, W, 1).
    """
    height, width = images.shape[1:3]
    rows, columns = jnp.meshgrid(jnp.arange(height) - (height - 1) / 2, jnp.arange(width) - (width - 1) / 2,
                                 indexing="ij")

    def warp(image, angle, scale, offset, shear):
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        unslanted = columns if shear is None else columns - shear * rows  # (H, W)
        source_rows = (cos * rows - sin * unslanted) / scale + (height - 1) / 2 - offset[0]
        source_columns = (sin * rows + cos * unslanted) / scale + (width - 1) / 2 - offset[1]
        # map_coordinates fills outside the image with 0: shift the background (−1) to 0 and back
        moved = jax.scipy.ndimage.map_coordinates(image[..., 0] + 1.0, [source_rows, source_columns], order=1,
                                                  mode="constant", cval=0.0)
        return moved[..., None] - 1.0  # (H, W, 1)

    return jax.vmap(warp, in_axes=(0, 0, 0, 0, None if shears is None else 0))(images, angles, scales, offsets, shears)


def random_affine(key: jax.Array, images, max_degrees: float = 15.0, max_scale: float = 0.1, max_shift: float = 2.0,
                  max_shear: float = 0.0):
    """Each image rotated by up to ±``max_degrees``, scaled by 1 ± ``max_scale``, moved by up to ±``max_shift``
    pixels each way and, if ``max_shear`` > 0, slanted by a shear of up to ±``max_shear``, all uniform and
    independent (``affine_warp``): a digit written a little differently, which is still the same digit."""
    angle_key, scale_key, offset_key = jax.random.split(key, 3)
    count = images.shape[0]
    angles = jnp.deg2rad(max_degrees) * jax.random.uniform(angle_key, (count,), minval=-1, maxval=1)
    scales = 1.0 + max_scale * jax.random.uniform(scale_key, (count,), minval=-1, maxval=1)
    offsets = max_shift * jax.random.uniform(offset_key, (count, 2), minval=-1, maxval=1)
    shears = None  # no shear: the same draws and the same arithmetic as before shearing existed
    if max_shear:
        shears = max_shear * jax.random.uniform(jax.random.fold_in(key, 3), (count,), minval=-1, maxval=1)
    return affine_warp(images, angles, scales, offsets, shears)


def batches_for_steps(key: jax.Array, images, batch_size: int, steps: int):
    """``steps`` shuffled batches, (steps, batch_size, ...), taking as many epochs as needed (each reshuffled).

    ``images`` may be a tuple of arrays (images, labels): a tuple of batch arrays comes back, rows kept together.
    """
    count = len(images[0]) if isinstance(images, tuple) else len(images)
    epoch_count = -(-steps // max(count // batch_size, 1))  # ceiling; epoch_batches rejects a too-big batch
    epochs = [epoch_batches(epoch_key, images, batch_size) for epoch_key in jax.random.split(key, epoch_count)]
    if isinstance(images, tuple):
        return tuple(np.concatenate(parts)[:steps] for parts in zip(*epochs))
    return np.concatenate(epochs)[:steps]


def iterate_batches(key: jax.Array, arrays, batch_size: int, epochs: int = 1):
    """Yield shuffled batches for ``epochs`` epochs; a fresh permutation each epoch."""
    for epoch_key in jax.random.split(key, epochs):
        batches = epoch_batches(epoch_key, arrays, batch_size)
        steps = len(batches[0]) if isinstance(batches, tuple) else len(batches)
        for step in range(steps):
            yield tuple(b[step] for b in batches) if isinstance(batches, tuple) else batches[step]


# ---------------------------------------------------------------- toy distributions


@dataclass(frozen=True)
class Gaussian1D:
    """A 1-D Gaussian N(mean, std²): the data distribution of chapter 01."""

    mean: float = 0.0
    std: float = 1.0

    def sample(self, key: jax.Array, count: int) -> jax.Array:
        return self.mean + self.std * jax.random.normal(key, (count, 1))  # (count, 1)

    def density(self, x):
        """p(x) = exp(-(x - μ)² / 2σ²) / (σ √(2π))."""
        return jnp.exp(-0.5 * ((x - self.mean) / self.std) ** 2) / (self.std * jnp.sqrt(2 * jnp.pi))


@dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-weight mixture of isotropic 2-D Gaussians N(centre_k, std² I)."""

    centres: np.ndarray  # (modes, 2)
    std: float

    def sample(self, key: jax.Array, count: int) -> jax.Array:
        mode_key, noise_key = jax.random.split(key)
        modes = jax.random.randint(mode_key, (count,), 0, len(self.centres))
        noise = self.std * jax.random.normal(noise_key, (count, 2))
        return jnp.asarray(self.centres, jnp.float32)[modes] + noise  # (count, 2)


def ring_of_gaussians(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture2D:
    """The ring of 8 Gaussians of the unrolled-GAN and VEEGAN papers."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return GaussianMixture2D(np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1), std)


def grid_of_gaussians(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
    """A side × side grid of Gaussians centred on the origin (25 modes by default)."""
    coordinates = spacing * (np.arange(side) - (side - 1) / 2)
    xs, ys = np.meshgrid(coordinates, coordinates)
    return GaussianMixture2D(np.stack([xs.ravel(), ys.ravel()], axis=1), std)
