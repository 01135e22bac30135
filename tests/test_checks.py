"""Bad input gets an error (or, where it is only suspicious, a warning) naming the argument, what was
expected and what was received: the slips students make most, each tried on the public function they reach."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import classifier, conditional, features, pretrained, training
from gan_lessons.checks import InputWarning, check_image_values
from gan_lessons.models import make_conditional_dcgan, make_dcgan


@pytest.fixture(scope="module")
def judge():
    return pretrained.load_classifier("mnist")[0]


@pytest.fixture(scope="module")
def generator_and_discriminator():
    generator, discriminator = make_dcgan("cpu", jax.random.key(0))
    return (training.TrainState.create(generator, training.dcgan_optimizer()),
            training.TrainState.create(discriminator, training.dcgan_optimizer()))


def digits(count=8):
    """Stand-ins for MNIST in the course's range: background −1, strokes up to +1."""
    images = -np.ones((count, 28, 28, 1), np.float32)
    images[:, 8:20, 12:16] = 1.0
    return images


def test_raw_pixels_in_0_255_are_refused_with_the_conversion(judge):
    raw = ((digits() + 1) * 127.5).astype(np.uint8)
    with pytest.raises(TypeError, match=r"images must be floats in \[-1, 1\]; received dtype uint8.*/ 127.5 - 1"):
        classifier.predict_probabilities(judge, raw)
    with pytest.raises(ValueError, match=r"images must be in \[-1, 1\].*received values in \[0, 255\].*x / 127.5 - 1"):
        classifier.predict_probabilities(judge, raw.astype(np.float32))


def test_images_in_0_1_are_suspicious_a_warning_with_the_fix(judge):
    with pytest.warns(InputWarning, match=r"images has values in \[0, 1\].*Rescale with x \* 2 - 1"):
        classifier.predict_probabilities(judge, (digits() + 1) / 2)


def test_images_in_range_pass_silently(judge):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning
        assert classifier.predict_probabilities(judge, digits()).shape == (8, 10)


@pytest.mark.parametrize("shape, explanation", [
    ((8, 1, 28, 28), r"channels-first \(NCHW.*x.transpose\(0, 2, 3, 1\) gives \(28, 28, 1\)"),
    ((8, 28, 28), r"missing the channel axis: add it with x\[\.\.\., None\]"),
    ((8, 784), r"looks flattened: x.reshape\(-1, 28, 28, 1\)"),
])
def test_wrong_layouts_are_named_with_the_fix(judge, shape, explanation):
    images = digits().transpose(0, 3, 1, 2) if shape == (8, 1, 28, 28) else digits().reshape(shape)
    with pytest.raises(ValueError, match=re.escape(f"images must have shape (batch, 28, 28, 1); received {shape}.")):
        classifier.predict_probabilities(judge, images)
    with pytest.raises(ValueError, match=explanation):
        classifier.predict_probabilities(judge, images)


def test_feature_extraction_names_the_layout_without_knowing_the_model(generator_and_discriminator):
    _, d_state = generator_and_discriminator
    with pytest.raises(ValueError, match=r"channels-first \(NCHW"):
        features.network_features(d_state, digits().transpose(0, 3, 1, 2))
    assert features.network_features(d_state, digits()).shape[0] == 8


def test_real_batches_must_match_the_generator_samples(generator_and_discriminator):
    g_state, d_state = generator_and_discriminator
    batches = digits(16).reshape(2, 8, 28, 28)  # (steps, batch, 28, 28): no channel axis
    with pytest.raises(ValueError, match=r"real_batches must have shape \(steps, batch, 28, 28, 1\); received "
                                         r"\(2, 8, 28, 28\)\. It is missing the channel axis"):
        training.train(d_state, g_state, batches, jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match=r"real_batches must be in \[-1, 1\]"):
        training.train(d_state, g_state, (digits(16).reshape(2, 8, 28, 28, 1) + 1) * 127.5, jax.random.key(1),
                       progress=False)


def test_a_latent_of_the_wrong_size(generator_and_discriminator):
    g_state, _ = generator_and_discriminator
    dim = training.latent_dim(g_state)
    with pytest.raises(ValueError, match=rf"z must have shape \(batch, {dim}\).*received \(4, {dim + 28}\)"):
        training.generate(g_state, jnp.zeros((4, dim + 28)))
    with pytest.raises(ValueError, match=rf"received \({dim},\)\. Add a batch axis: z\[None\]"):
        training.generate(g_state, jnp.zeros(dim))
    # under jit only shapes are known, and they are still checked
    with pytest.raises(ValueError, match=r"z must have shape"):
        jax.jit(training.generate)(g_state, jnp.zeros((4, dim + 1)))
    assert training.generate(g_state, jnp.zeros((4, dim))).shape == (4, 28, 28, 1)


def test_labels_out_of_range_or_one_hot(judge):
    generator, _ = make_conditional_dcgan("cpu", jax.random.key(1))
    g_state = training.TrainState.create(generator, training.dcgan_optimizer())
    z = jnp.zeros((3, training.latent_dim(g_state)))
    # one_hot(10) with 10 classes is all zeros: without the check G would silently draw "no class"
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9 \(10 classes\); received values from 0 to 10"):
        conditional.generate(g_state, z, jnp.array([0, 5, 10]))
    with pytest.raises(ValueError, match=r"received values from -1 to 2"):
        conditional.generate(g_state, z, jnp.array([-1, 0, 2]))
    one_hot = np.eye(10)[[1, 2, 3, 4, 5, 6, 7, 8]]
    with pytest.raises(ValueError, match=r"labels must be one integer class per example, shape \(8,\); received "
                                         r"\(8, 10\) \(one-hot\? pass labels.argmax\(axis=1\)\)"):
        classifier.accuracy(judge, digits(), one_hot)


def test_nan_images_are_refused():
    images = digits()
    images[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="images contains NaN or Inf"):
        check_image_values(images)


def test_the_tests_run_with_key_reuse_checking_and_it_catches_a_reused_key():
    """A key used twice gives the same "random" numbers twice. conftest.py turns on JAX's checker for
    the whole suite, so every library function here is run under it."""
    assert jax.config.jax_debug_key_reuse
    key = jax.random.key(0)
    training.sample_latent(key, 4, 8)
    with pytest.raises(jax.errors.KeyReuseError):
        training.sample_latent(key, 4, 8)  # the mistake: a second "independent" draw from the same key
