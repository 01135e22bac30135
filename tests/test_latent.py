"""Latent-space tools against closed forms: interpolations, attribute directions, ink, slant, inversion."""

import jax
import jax.numpy as jnp
import numpy as np

from gan_lessons import latent, pretrained, training


def test_linear_interpolation_is_the_straight_line():
    path = latent.linear_interpolation(jnp.array([0.0, 2.0]), jnp.array([4.0, 0.0]), 5)
    np.testing.assert_allclose(path[2], [2.0, 1.0])
    np.testing.assert_allclose(path[jnp.array([0, -1])], [[0.0, 2.0], [4.0, 0.0]])


def test_spherical_interpolation_matches_the_closed_form_on_orthogonal_vectors():
    # Ω = π/2, so z(½) = sin(π/4)(z₀ + z₁) / sin(π/2) = (z₀ + z₁)/√2, and every point keeps norm 3
    start, end = jnp.array([3.0, 0.0, 0.0]), jnp.array([0.0, 3.0, 0.0])
    path = latent.spherical_interpolation(start, end, 5)
    np.testing.assert_allclose(path[2], (start + end) / np.sqrt(2), atol=1e-5)
    np.testing.assert_allclose(path[1], [3 * np.cos(np.pi / 8), 3 * np.sin(np.pi / 8), 0.0], atol=1e-5)
    np.testing.assert_allclose(jnp.linalg.norm(path, axis=1), 3.0, atol=1e-5)
    np.testing.assert_allclose(path[jnp.array([0, -1])], jnp.stack([start, end]), atol=1e-5)


def test_spherical_interpolation_of_parallel_vectors_is_finite():
    path = latent.spherical_interpolation(jnp.array([1.0, 1.0]), jnp.array([2.0, 2.0]), 3)
    np.testing.assert_allclose(path, [[1.0, 1.0], [1.5, 1.5], [2.0, 2.0]], atol=1e-5)


def test_gaussian_codes_keep_their_norm_along_slerp_but_not_along_the_line():
    start, end = training.sample_latent(jax.random.key(0), 2, 100)
    middle_linear = jnp.linalg.norm(latent.linear_interpolation(start, end, 3)[1])
    middle_spherical = jnp.linalg.norm(latent.spherical_interpolation(start, end, 3)[1])
    ends = (jnp.linalg.norm(start) + jnp.linalg.norm(end)) / 2
    assert float(middle_linear / ends) < 0.8  # ≈ 1/√2 for nearly orthogonal codes
    assert abs(float(middle_spherical / ends) - 1.0) < 0.05


def test_attribute_direction_recovers_the_direction_that_sets_the_score():
    latents = training.sample_latent(jax.random.key(1), 4_000, 20)
    truth = jnp.zeros(20).at[3].set(1.0)
    direction = latent.attribute_direction(latents, latents @ truth)
    assert float(direction @ truth / jnp.linalg.norm(direction)) > 0.95


def test_ink_and_slant_on_drawn_strokes():
    blank = -jnp.ones((1, 28, 28, 1))
    np.testing.assert_allclose(latent.ink(blank), [0.0])
    np.testing.assert_allclose(latent.ink(-blank), [1.0])
    rows = jnp.arange(4, 24)
    upright = blank.at[0, rows, 14, 0].set(1.0)
    leaning_right = blank.at[0, rows, 24 - (rows - 4) // 2, 0].set(1.0)  # top to the right
    leaning_left = blank.at[0, rows, 4 + (rows - 4) // 2, 0].set(1.0)
    slants = latent.slant(jnp.concatenate([upright, leaning_right, leaning_left]))
    assert abs(float(slants[0])) < 1e-4
    np.testing.assert_allclose(slants[1:], [0.5, -0.5], atol=0.03)  # half a column per row


def test_inversion_finds_a_code_that_reproduces_a_generated_image():
    generator, _, _ = pretrained.load_dcgan()
    target_key, start_key = jax.random.split(jax.random.key(2))
    images = training.generate(generator, training.sample_latent(target_key, 8, 100))
    start = training.sample_latent(start_key, 8, 100)
    start_error = np.mean((np.asarray(training.generate(generator, start)) - np.asarray(images)) ** 2, axis=(1, 2, 3))
    _, error = latent.invert_generator(generator, images, start, steps=200)
    assert np.all(np.asarray(error) < 0.25 * start_error) and float(np.median(error)) < 0.02
