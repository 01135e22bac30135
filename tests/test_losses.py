"""Each loss against its closed form, and stability where a naive formula fails."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import losses


def naive_log_sigmoid(x):
    return np.log(1 / (1 + np.exp(-np.asarray(x, np.float64))))


@pytest.mark.parametrize("logit", [-5.0, -0.3, 0.0, 1.7, 6.0])
def test_log_d_and_log_one_minus_d_match_the_definitions(logit):
    assert np.isclose(losses.log_d(jnp.float32(logit)), naive_log_sigmoid(logit), atol=1e-6)
    assert np.isclose(losses.log_one_minus_d(jnp.float32(logit)), naive_log_sigmoid(-logit), atol=1e-6)


def test_value_function_at_d_one_half_is_minus_log_4():
    zeros = jnp.zeros(16)  # logit 0 ⇔ D = 1/2 everywhere
    assert np.isclose(losses.value_function(zeros, zeros), -np.log(4), atol=1e-7)
    assert np.isclose(losses.d_loss(zeros, zeros), np.log(4), atol=1e-7)


def test_value_function_closed_form_for_given_probabilities():
    d_real, d_fake = 0.8, 0.3
    logit = lambda p: jnp.log(p / (1 - p)) * jnp.ones(4)
    expected = np.log(d_real) + np.log(1 - d_fake)
    assert np.isclose(losses.value_function(logit(d_real), logit(d_fake)), expected, atol=1e-6)
    assert np.isclose(losses.g_loss_saturating(logit(d_fake)), np.log(1 - d_fake), atol=1e-6)
    assert np.isclose(losses.g_loss_non_saturating(logit(d_fake)), -np.log(d_fake), atol=1e-6)


def test_generator_gradients_with_respect_to_d():
    # d/dℓ log(1 − σ(ℓ)) = −σ(ℓ);  d/dℓ −log σ(ℓ) = −(1 − σ(ℓ))
    logits = jnp.array([-6.0, -1.0, 0.0, 2.0])
    d = jax.nn.sigmoid(logits)
    saturating = jax.grad(lambda x: jnp.sum(losses.log_one_minus_d(x)))(logits)
    non_saturating = jax.grad(lambda x: -jnp.sum(losses.log_d(x)))(logits)
    np.testing.assert_allclose(saturating, -d, rtol=1e-6)
    np.testing.assert_allclose(non_saturating, -(1 - d), rtol=1e-6)
    # early training, D(G(z)) ≈ 0.0025: the saturating gradient almost vanishes
    assert abs(saturating[0]) < 0.003 and abs(non_saturating[0]) > 0.99


def test_losses_are_finite_for_extreme_logits():
    huge = jnp.array([-200.0, 200.0])
    for value in (losses.d_loss(huge, huge), losses.g_loss_saturating(huge), losses.g_loss_non_saturating(huge)):
        assert np.isfinite(value)
    gradient = jax.grad(lambda x: losses.d_loss(x, x))(huge)
    assert np.all(np.isfinite(gradient))
    assert np.isclose(losses.g_loss_non_saturating(jnp.array([-200.0])), 200.0)


def test_least_squares_hinge_and_wasserstein_against_their_closed_forms():
    real, fake = jnp.array([1.5, 0.5, -0.5]), jnp.array([-2.0, 0.0, 0.5])
    # LSGAN: ½·mean((r − 1)²) + ½·mean(f²);  ½·mean((f − 1)²)
    expected = 0.5 * (0.25 + 0.25 + 2.25) / 3 + 0.5 * (4 + 0 + 0.25) / 3
    assert np.isclose(losses.d_loss_least_squares(real, fake), expected)
    assert np.isclose(losses.g_loss_least_squares(fake), 0.5 * (9 + 1 + 0.25) / 3)
    # hinge: mean(max(0, 1 − r)) + mean(max(0, 1 + f)); a real at 1.5 and a fake at −2 are past the margin
    assert np.isclose(losses.d_loss_hinge(real, fake), (0 + 0.5 + 1.5) / 3 + (0 + 1 + 1.5) / 3)
    # WGAN: mean(f) − mean(r);  the linear generator loss −mean(f)
    assert np.isclose(losses.d_loss_wasserstein(real, fake), -0.5 - 0.5)
    assert np.isclose(losses.g_loss_linear(fake), 0.5)


def test_each_discriminator_loss_is_smallest_when_real_and_fake_are_told_apart():
    separated, confused = (jnp.full(4, 3.0), jnp.full(4, -3.0)), (jnp.full(4, -3.0), jnp.full(4, 3.0))
    for name, loss in losses.DISCRIMINATOR_LOSSES.items():
        assert loss(*separated) < loss(*confused), name
    for name, loss in losses.GENERATOR_LOSSES.items():  # G prefers fakes that D scores as real
        assert loss(jnp.full(4, 1.0)) < loss(jnp.full(4, -3.0)), name
