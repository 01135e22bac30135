"""The class-conditional DCGAN: labels reach both players, the step trains both, batches keep rows together."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import conditional, data, pretrained, train, training
from gan_lessons.models import make_conditional_dcgan, one_hot_maps


@pytest.fixture(scope="module")
def states():
    generator, discriminator = make_conditional_dcgan("cpu", jax.random.key(0))
    return (training.TrainState.create(discriminator, training.dcgan_optimizer()),
            training.TrainState.create(generator, training.dcgan_optimizer()))


def test_one_hot_maps_repeat_the_label_at_every_pixel():
    maps = one_hot_maps(jnp.array([2, 7]), 10)
    assert maps.shape == (2, 28, 28, 10)
    np.testing.assert_array_equal(maps[0, 5, 9], np.eye(10)[2])
    np.testing.assert_array_equal(maps[1].sum(axis=(0, 1)), 28 * 28 * np.eye(10)[7])


def test_the_label_changes_both_players_outputs(states):
    d_state, g_state = states
    z = jnp.repeat(training.sample_latent(jax.random.key(1), 1, 100), 2, axis=0)  # the same z twice
    images = conditional.generate(g_state, z, jnp.array([3, 8]))
    assert images.shape == (2, 28, 28, 1)
    assert float(jnp.abs(images[0] - images[1]).max()) > 1e-3  # same z, other label: another image
    same_images = jnp.repeat(images[:1], 2, axis=0)
    logits = training.apply_model(d_state, d_state.params, d_state.batch_stats, (same_images, jnp.array([3, 8])),
                                  train=False)[0]
    assert logits.shape == (2,) and abs(float(logits[0] - logits[1])) > 1e-6  # same image, other label


def test_train_step_updates_both_players_with_and_without_r1(states, data_dir):
    d_state, g_state = states
    images, labels = data.load_mnist("test", data_dir)
    for r1_weight in (0.0, 1.0):
        new_d, new_g, metrics = conditional.train_step(d_state, g_state, images[:16], labels[:16],
                                                       jax.random.key(2), r1_weight)
        for old, new in ((d_state, new_d), (g_state, new_g)):
            changed = [not np.allclose(a, b) for a, b in zip(jax.tree.leaves(old.params), jax.tree.leaves(new.params))]
            assert all(changed) and int(new.step) == 1
        assert np.isfinite(float(metrics["g_loss"]))


def test_batches_keep_images_and_labels_together():
    images = np.arange(50, dtype=np.float32).reshape(50, 1, 1, 1)  # image i has the value i
    labels = np.arange(50) % 10
    image_batches, label_batches = data.batches_for_steps(jax.random.key(3), (images, labels), 8, 13)
    assert image_batches.shape == (13, 8, 1, 1, 1) and label_batches.shape == (13, 8)  # 13 steps span 3 epochs
    np.testing.assert_array_equal(image_batches[..., 0, 0, 0].astype(int) % 10, label_batches)


def test_train_rejects_labels_that_do_not_match_the_images(states):
    d_state, g_state = states
    with pytest.raises(ValueError, match="one integer class per example, shape \\(10,\\)"):
        conditional.train(d_state, g_state, np.zeros((10, 28, 28, 1)), np.zeros(9, int), jax.random.key(4), 1)


def test_train_command_writes_a_loadable_conditional_checkpoint(tmp_path, data_dir):
    out = tmp_path / "conditional.ckpt"
    result = train.main(["conditional_dcgan", "--epochs", "0.01", "--batch-size", "64",
                         "--data-dir", str(data_dir), "--out", str(out)])
    assert result["final_d_real"] > result["final_d_fake"], result  # D tells real from fake from the first steps
    stored = pretrained.read_checkpoint_config(out)
    assert stored["requested_class_accuracy"] == result["requested_class_accuracy"]
    assert pretrained.read_checkpoint_config(out)["command"].startswith("python -m gan_lessons.train conditional")


def test_shipped_conditional_dcgan_draws_the_requested_digits():
    generator, _, config = pretrained.load_conditional_dcgan()
    classifier_state, _ = pretrained.load_classifier()
    samples, requested = conditional.generate_classes(generator, jax.random.key(5), 20)
    from gan_lessons.classifier import accuracy

    assert accuracy(classifier_state, samples, requested) > 0.9  # 200 samples; the full check is in chapter 07
    assert config["requested_class_accuracy"] >= 0.95


def test_projection_discriminator_adds_the_inner_product_of_the_class_embedding_and_the_features():
    # ℓ(x, y) = w·φ(x) + b + e_y·φ(x): changing y from 3 to 8 changes ℓ by exactly (e_3 − e_8)·φ(x)
    _, discriminator = make_conditional_dcgan("cpu", jax.random.key(6), conditioning="projection")
    discriminator.eval()
    images = jax.random.uniform(jax.random.key(7), (4, 28, 28, 1), minval=-1, maxval=1)
    threes, eights = jnp.full(4, 3), jnp.full(4, 8)
    features = discriminator.features(images, threes)[-1].reshape(4, -1)
    embedding = discriminator.class_embedding.embedding[...]
    expected = features @ (embedding[3] - embedding[8])
    np.testing.assert_allclose(discriminator(images, threes) - discriminator(images, eights), expected, atol=1e-5)
    unconditional_part = discriminator.body.output(features)[:, 0]
    np.testing.assert_allclose(discriminator(images, threes), unconditional_part + features @ embedding[3], atol=1e-5)


def test_unknown_conditioning_is_refused():
    with pytest.raises(ValueError, match="'input' or 'projection'"):
        make_conditional_dcgan("cpu", jax.random.key(8), conditioning="concatenate")
