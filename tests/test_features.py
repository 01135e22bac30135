"""Feature extraction and the probes that test features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import features, models, training


def test_pooled_takes_the_max_of_each_block_and_ignores_padding():
    maps = jnp.arange(2 * 8 * 8 * 3, dtype=jnp.float32).reshape(2, 8, 8, 3)
    pooled = features.pooled(maps, grid=4).reshape(2, 4, 4, 3)
    # 2×2 blocks of an increasing ramp: each block's max is its bottom-right corner
    np.testing.assert_array_equal(pooled, maps[:, 1::2, 1::2, :])
    negative = -jnp.ones((1, 7, 7, 1))  # 7×7 onto 4×4 needs padding; the −inf pads must never win
    assert float(features.pooled(negative, grid=4).max()) == -1.0


def test_network_features_concatenate_pooled_layers():
    _, discriminator = models.make_dcgan("cpu", jax.random.key(0))
    state = training.TrainState.create(discriminator, training.dcgan_optimizer())
    images = jax.random.uniform(jax.random.key(1), (5, 28, 28, 1), minval=-1, maxval=1)
    pooled = features.network_features(state, images, grid=4, batch_size=2)  # batches of 2, 2, 1
    assert pooled.shape == (5, 4 * 4 * 16 + 4 * 4 * 32)
    whole = features.network_features(state, images, grid=None)
    assert whole.shape == (5, 14 * 14 * 16 + 7 * 7 * 32)
    # evaluation mode: one image's features do not depend on the rest of its batch
    np.testing.assert_allclose(features.network_features(state, images[:1], grid=None), whole[:1], atol=1e-5)


def test_network_features_keep_only_the_chosen_layers():
    from gan_lessons import infogan

    _, d_state = infogan.make_infogan(jax.random.key(0))
    images = jax.random.uniform(jax.random.key(1), (5, 28, 28, 1), minval=-1, maxval=1)
    every_layer = features.network_features(d_state, images)  # 4·4·32 + 4·4·64 + 128 (Q's hidden layer)
    last = features.network_features(d_state, images, layers=(-1,))
    assert every_layer.shape == (5, 4 * 4 * 32 + 4 * 4 * 64 + 128) and last.shape == (5, 128)
    np.testing.assert_array_equal(last, every_layer[:, -128:])
    first = features.network_features(d_state, images, layers=(0,))
    np.testing.assert_array_equal(first, every_layer[:, :4 * 4 * 32])


def test_balanced_subset_draws_equally_from_each_class():
    labels = np.repeat(np.arange(10), 30)
    chosen = features.balanced_subset(labels, 100, jax.random.key(0))
    assert len(set(chosen)) == 100 and np.all(np.bincount(labels[chosen]) == 10)
    assert not np.array_equal(chosen, features.balanced_subset(labels, 100, jax.random.key(1)))
    np.testing.assert_array_equal(chosen, features.balanced_subset(labels, 100, jax.random.key(0)))
    with pytest.raises(ValueError, match="multiple of 10"):
        features.balanced_subset(labels, 55, jax.random.key(0))


def _two_tasks():
    """Features where class is the sign of feature 0, buried among noise features."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(2000, 20))
    labels = (points[:, 0] > 0).astype(int)
    return points[:1000], labels[:1000], points[1000:], labels[1000:]


def test_linear_probe_solves_a_linear_task_and_knn_is_worse_with_noise_features():
    train_x, train_y, test_x, test_y = _two_tasks()
    assert features.linear_probe(train_x, train_y, test_x, test_y) > 0.97
    # the label depends on one feature of 20: nearest neighbours are mostly decided by the other 19
    assert features.knn_accuracy(train_x, train_y, test_x, test_y) < 0.85


def test_probe_with_labels_repeats_over_draws_and_uses_everything_once():
    train_x, train_y, test_x, test_y = _two_tasks()
    few = features.probe_with_labels(train_x, train_y, test_x, test_y, 10, jax.random.key(0), draws=4)
    assert few.labels == 10 and len(few.accuracies) == 4 and few.spread > 0
    again = features.probe_with_labels(train_x, train_y, test_x, test_y, 10, jax.random.key(0), draws=4)
    assert again.accuracies == few.accuracies  # the same key draws the same labelled images
    with pytest.raises(ValueError, match="pass key="):
        features.probe_with_labels(train_x, train_y, test_x, test_y, 10)
    every = features.probe_with_labels(train_x, train_y, test_x, test_y, None)
    assert every.labels == 1000 and len(every.accuracies) == 1 and every.spread == 0.0
    assert every.mean > few.mean


def test_choose_by_validation_finds_the_informative_features_from_training_labels_alone():
    train_x, train_y, _, _ = _two_tasks()
    noise = np.delete(train_x, 0, axis=1)  # the 19 features that say nothing about the class
    sets = {"noise": noise, "signal": train_x}
    # 20 labels per draw: 5-fold cross-validation inside each draw; the draws are probe_with_labels' draws
    assert features.choose_by_validation(sets, train_y, 20, jax.random.key(0), draws=3) == ["signal"] * 3
    assert [len(chosen) for chosen in features.labelled_draws(train_y, 20, jax.random.key(0), draws=3)] == [20] * 3
    # every label, above the cross-validation limit: one held-out fifth decides
    assert features.choose_by_validation(sets, train_y, None, largest_cross_validation=500) == ["signal"]
    # equal scores: the set listed first wins
    assert features.choose_by_validation({"first": noise, "second": noise.copy()}, train_y, None) == ["first"]
    with pytest.raises(ValueError, match="pass key="):
        features.choose_by_validation(sets, train_y, 20)


def test_choose_by_validation_can_show_a_bar_over_its_draws_and_chooses_the_same(capsys):
    train_x, train_y, _, _ = _two_tasks()
    sets = {"noise": np.delete(train_x, 0, axis=1), "signal": train_x}
    quiet = features.choose_by_validation(sets, train_y, 20, jax.random.key(0), draws=3)
    assert capsys.readouterr().err == ""
    shown = features.choose_by_validation(sets, train_y, 20, jax.random.key(0), draws=3, progress=True)
    bar = capsys.readouterr().err
    assert shown == quiet and "20 labels" in bar and "3/3" in bar


def test_shifted_copies_move_each_image_by_every_offset_and_fill_the_border():
    images = np.full((2, 5, 5, 1), -1.0, dtype=np.float32)
    images[0, 2, 2, 0], images[1, 0, 4, 0] = 1.0, 0.5  # one lit pixel each: the centre, the top-right corner
    copies = features.shifted_copies(images, radius=1)
    assert copies.shape == (2 * 9, 5, 5, 1)
    np.testing.assert_array_equal(copies[8:10], images)  # the middle copy is the unmoved one
    centre_moves = [tuple(np.argwhere(copy[..., 0] == 1.0)[0]) for copy in copies[0::2]]
    assert centre_moves == [(2 + dy, 2 + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    # the corner pixel moved up or right falls off the image; the uncovered border is background, never wrapped
    assert copies[1].max() == -1.0 and copies[1 + 2 * 5].max() == -1.0 and copies[1 + 2 * 6].max() == 0.5
    assert set(np.unique(copies)) <= {-1.0, 0.5, 1.0}


def test_shifted_probe_learns_what_the_plain_probe_cannot_from_few_labels():
    # class = which half of a 12×12 image a short bar lies in; the labelled bars sit in one column per class,
    # the test bars anywhere in their half: only copies moved sideways show the probe the other columns
    rng = np.random.default_rng(0)

    def bars(count, fixed):
        images = np.full((count, 12, 12, 1), -1.0, dtype=np.float32)
        labels = rng.integers(0, 2, count)
        for image, label in zip(images, labels):
            column = (2 if label == 0 else 9) if fixed else rng.integers(0, 6) + 6 * label
            image[4:8, column] = 1.0
        return images, labels

    (train_x, train_y), (test_x, test_y) = bars(40, fixed=True), bars(400, fixed=False)
    pixels = features.pixel_features(test_x)
    plain = features.shifted_probe(features.pixel_features, train_x, train_y, pixels, test_y, 10,
                                   jax.random.key(0), draws=3, radius=0)
    shifted = features.shifted_probe(features.pixel_features, train_x, train_y, pixels, test_y, 10,
                                     jax.random.key(0), draws=3, radius=3)
    assert plain.labels == shifted.labels == 10 and len(shifted.accuracies) == 3
    assert shifted.mean > plain.mean + 0.2 and shifted.mean > 0.9, (plain, shifted)
    # radius 0 is probe_with_labels itself: the same draws, the same fits
    same = features.probe_with_labels(features.pixel_features(train_x), train_y, pixels, test_y, 10,
                                      jax.random.key(0), draws=3)
    assert same.accuracies == plain.accuracies
