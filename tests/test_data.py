import shutil

import jax
import numpy as np
import pytest

from gan_lessons import data


def test_load_mnist_train_and_test(data_dir):
    images, labels = data.load_mnist("train", data_dir=data_dir)
    assert images.shape == (60000, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (60000,) and labels.dtype == np.int32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]  # the well-known first training labels
    test_images, test_labels = data.load_mnist("test", data_dir=data_dir)
    assert test_images.shape == (10000, 28, 28, 1)
    assert np.bincount(test_labels).tolist()[:3] == [980, 1135, 1032]


def test_load_fashion_mnist(data_dir):
    images, labels = data.load_fashion_mnist("test", data_dir=data_dir)
    assert images.shape == (10000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [1000] * 10


def test_unknown_split_is_a_clear_error(data_dir):
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_mnist("validation", data_dir=data_dir)


def test_search_order_argument_then_environment_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LESSONS_DATA", str(tmp_path / "from_env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.search_folders(tmp_path / "arg") == [
        tmp_path / "arg", tmp_path / "from_env", tmp_path / "cache" / "gan_lessons"
    ]
    monkeypatch.delenv("GAN_LESSONS_DATA")
    assert data.search_folders() == [tmp_path / "cache" / "gan_lessons"]


def test_environment_variable_is_used(data_dir, monkeypatch):
    monkeypatch.setenv("GAN_LESSONS_DATA", str(data_dir))
    images, _ = data.load_mnist("test")
    assert images.shape == (10000, 28, 28, 1)


def test_a_damaged_local_file_is_reported_not_used(data_dir, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_dir / "mnist" / name, folder / name)
    with open(folder / "t10k-labels-idx1-ubyte.gz", "r+b") as file:
        file.seek(100)
        file.write(b"\xff")
    with pytest.raises(ValueError, match="damaged"):
        data.load_mnist("test", data_dir=tmp_path)


def test_epoch_batches_are_a_keyed_permutation():
    values = np.arange(10)
    batches = data.epoch_batches(jax.random.key(0), values, 3)
    assert batches.shape == (3, 3)
    assert len(set(batches.ravel().tolist())) == 9  # no example twice, one dropped
    np.testing.assert_array_equal(batches, data.epoch_batches(jax.random.key(0), values, 3))
    assert not np.array_equal(batches, data.epoch_batches(jax.random.key(1), values, 3))


def test_epoch_batches_keeps_pairs_together():
    images, labels = np.arange(20) * 10, np.arange(20)
    image_batches, label_batches = data.epoch_batches(jax.random.key(0), (images, labels), 4)
    np.testing.assert_array_equal(image_batches, label_batches * 10)


def test_iterate_batches_covers_each_epoch():
    seen = [int(b) for batch in data.iterate_batches(jax.random.key(0), np.arange(8), 2, epochs=2) for b in batch]
    assert sorted(seen) == sorted(list(range(8)) * 2)


def test_batches_for_steps_spans_epochs_each_a_permutation():
    batches = data.batches_for_steps(jax.random.key(0), np.arange(8), 2, steps=7)  # 4 steps per epoch
    assert batches.shape == (7, 2)
    assert sorted(batches[:4].ravel().tolist()) == list(range(8))  # the first epoch: every example once
    assert len(set(batches[4:].ravel().tolist())) == 6  # the second, cut short: no example twice


def test_batch_larger_than_data_is_a_clear_error():
    with pytest.raises(ValueError, match="larger than"):
        data.epoch_batches(jax.random.key(0), np.arange(3), 4)


def test_ring_and_grid_of_gaussians():
    ring = data.ring_of_gaussians()
    assert ring.centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring.centres, axis=1), 2.0)
    samples = np.asarray(ring.sample(jax.random.key(0), 4000))
    distances = np.linalg.norm(samples[:, None] - ring.centres[None], axis=2).min(axis=1)
    assert distances.max() < 6 * ring.std
    grid = data.grid_of_gaussians()
    assert grid.centres.shape == (25, 2)
    assert set(np.round(grid.centres[:, 0], 6)) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_gaussian_1d_samples_and_density():
    gaussian = data.Gaussian1D(mean=3.0, std=0.5)
    samples = np.asarray(gaussian.sample(jax.random.key(0), 100_000))
    assert abs(samples.mean() - 3.0) < 0.01 and abs(samples.std() - 0.5) < 0.01
    grid = np.linspace(-2, 8, 10001)
    assert abs(np.sum(np.asarray(gaussian.density(grid))) * (grid[1] - grid[0]) - 1.0) < 1e-6


def test_affine_warp_against_exact_cases():
    images = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    zeros, ones = np.zeros(2, np.float32), np.ones(2, np.float32)
    # no turn, no scale, no move: the same images
    np.testing.assert_allclose(data.affine_warp(images, zeros, ones, np.zeros((2, 2))), images, atol=1e-6)
    # a quarter turn about the centre maps the pixel grid onto itself: clockwise as shown is np.rot90(k=−1)
    quarter = data.affine_warp(images, np.full(2, np.pi / 2, np.float32), ones, np.zeros((2, 2)))
    np.testing.assert_allclose(quarter, np.rot90(images, -1, axes=(1, 2)), atol=1e-5)
    # one row down: row r of the output is row r − 1 of the input, and the new top row is background
    moved = np.asarray(data.affine_warp(images, zeros, ones, np.array([[1.0, 0.0], [1.0, 0.0]])))
    np.testing.assert_allclose(moved[:, 1:], images[:, :-1], atol=1e-6)
    assert np.all(moved[:, 0] == -1.0)
    # a shear of 1 on a 5×5 image: the vertical stroke through the centre becomes the diagonal, row r − 2 rows
    # below the centre moved r − 2 columns right
    stroke = np.full((1, 5, 5, 1), -1.0, np.float32)
    stroke[0, :, 2] = 1.0
    slanted = data.affine_warp(stroke, np.zeros(1), np.ones(1), np.zeros((1, 2)), shears=np.ones(1))
    np.testing.assert_allclose(slanted[0, ..., 0], np.where(np.eye(5), 1.0, -1.0), atol=1e-6)


def test_random_affine_keeps_shape_range_and_key():
    images = np.random.default_rng(1).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    altered = np.asarray(data.random_affine(jax.random.key(3), images))
    assert altered.shape == images.shape and altered.min() >= -1 - 1e-6 and altered.max() <= 1 + 1e-6
    np.testing.assert_array_equal(altered, np.asarray(data.random_affine(jax.random.key(3), images)))  # same seed
    assert not np.allclose(altered, images)
    # with every range at zero the copies are the images
    np.testing.assert_allclose(data.random_affine(jax.random.key(4), images, 0.0, 0.0, 0.0), images, atol=1e-6)
    # a shear range adds a slant on top of the same turn, scale and move: only a shear-only call differs from none
    slanted = np.asarray(data.random_affine(jax.random.key(3), images, max_shear=0.3))
    assert not np.allclose(slanted, altered)
    only_shear = data.random_affine(jax.random.key(4), images, 0.0, 0.0, 0.0, max_shear=0.3)
    assert not np.allclose(only_shear, images) and np.asarray(only_shear).min() >= -1 - 1e-6


def test_validation_split_is_one_fixed_disjoint_split_with_labels_kept():
    images = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1)
    labels = np.arange(100) % 10
    (kept, kept_labels), (held, held_labels) = data.validation_split(images, labels, 20)
    assert len(held) == 20 and len(kept) == 80
    assert set(held.ravel()) | set(kept.ravel()) == set(range(100)) and not set(held.ravel()) & set(kept.ravel())
    assert np.array_equal(held_labels, held.ravel().astype(int) % 10)  # rows travel with their labels
    assert np.array_equal(kept_labels, kept.ravel().astype(int) % 10)
    assert not np.array_equal(np.sort(held.ravel()), np.arange(20))  # drawn at random, not the first 20
    (_, _), (again, _) = data.validation_split(images, labels, 20)
    assert np.array_equal(again, held)  # every run, whatever its seed, gets the same split
    for count in (0, 100):
        with pytest.raises(ValueError, match="count must be between 1 and 99"):
            data.validation_split(images, labels, count)
