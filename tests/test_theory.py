import numpy as np
from scipy.stats import norm

from gan_lessons import theory


def test_optimal_discriminator_formula():
    np.testing.assert_allclose(theory.optimal_discriminator([1.0, 3.0, 0.0], [1.0, 1.0, 2.0]), [0.5, 0.75, 0.0])


def test_jensen_shannon_closed_forms():
    p = np.array([0.2, 0.3, 0.5])
    assert theory.jensen_shannon_divergence(p, p) < 1e-12
    assert np.isclose(theory.jensen_shannon_divergence([1, 1, 0, 0], [0, 0, 1, 1]), np.log(2))
    # two-point distributions: JSD by hand
    p, q = np.array([0.9, 0.1]), np.array([0.5, 0.5])
    m = (p + q) / 2
    by_hand = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    assert np.isclose(theory.jensen_shannon_divergence(p, q), by_hand)


def test_value_at_optimal_discriminator_is_minus_log_4_plus_two_jsd():
    grid = np.linspace(-10, 10, 20001)
    dx = grid[1] - grid[0]
    p_data = norm.pdf(grid, 0, 1)
    assert np.isclose(theory.value_at_optimal_discriminator(p_data, p_data, dx), -np.log(4), atol=1e-6)
    p_generator = norm.pdf(grid, 1.5, 0.7)
    c = theory.value_at_optimal_discriminator(p_data, p_generator, dx)
    assert np.isclose(c, -np.log(4) + 2 * theory.jensen_shannon_divergence(p_data, p_generator), atol=1e-6)
