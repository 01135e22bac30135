"""Mode coverage on samples whose answer is known exactly."""

import jax
import numpy as np
import pytest

from gan_lessons import data, metrics

RING = data.ring_of_gaussians()


def test_samples_on_the_centres_cover_every_mode():
    samples = np.repeat(RING.centres, 100, axis=0)
    coverage = metrics.mode_coverage(samples, RING.centres, RING.std)
    assert coverage.modes_covered == 8 and coverage.high_quality_share == 1.0
    np.testing.assert_allclose(coverage.mode_shares, np.full(8, 1 / 8))


def test_counts_follow_the_definitions():
    # 60 samples on mode 0, 30 just inside 3σ of mode 1, 5 on mode 2 (5 %), 5 at the origin (far from all)
    inside = RING.centres[1] + np.array([2.9 * RING.std, 0.0])
    samples = np.concatenate([np.repeat(RING.centres[:1], 60, 0), np.repeat(inside[None], 30, 0),
                              np.repeat(RING.centres[2:3], 5, 0), np.zeros((5, 2))])
    coverage = metrics.mode_coverage(samples, RING.centres, RING.std)
    assert coverage.modes_covered == 3
    assert coverage.high_quality_share == pytest.approx(0.95)
    # with a 6 % threshold mode 2 (5 %) no longer counts
    assert metrics.mode_coverage(samples, RING.centres, RING.std, min_share=0.06).modes_covered == 2


def test_just_outside_three_sigma_is_not_high_quality():
    outside = RING.centres[:1] + np.array([[3.1 * RING.std, 0.0]])
    assert metrics.mode_coverage(outside, RING.centres, RING.std).high_quality_share == 0.0


def test_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"samples must be \(N, 2\)"):
        metrics.mode_coverage(np.zeros((10, 3)), RING.centres, RING.std)


# ------------------------------------------------------------------ image metrics on known answers


def gaussian_with_exact_moments(key, count, mean, covariance):
    """Samples whose sample mean and sample covariance equal ``mean`` and ``covariance`` exactly."""
    raw = np.asarray(jax.random.normal(key, (count, len(mean))), np.float64)
    raw -= raw.mean(0)
    whitened = raw @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(raw, rowvar=False)))).T
    return whitened @ np.linalg.cholesky(covariance).T + mean


def random_covariance(key, size):
    factor = np.asarray(jax.random.normal(key, (size, size)), np.float64)
    return factor @ factor.T / size + 0.1 * np.eye(size)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.asarray(jax.random.normal(jax.random.key(0), (500, 16)))
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_one_dimensional_gaussians_is_the_closed_form():
    # FD(N(μa, σa²), N(μb, σb²)) = (μa − μb)² + (σa − σb)²
    a = gaussian_with_exact_moments(jax.random.key(1), 2000, np.array([1.0]), np.array([[4.0]]))
    b = gaussian_with_exact_moments(jax.random.key(2), 3000, np.array([-0.5]), np.array([[0.25]]))
    assert metrics.frechet_distance(a, b) == pytest.approx(1.5 ** 2 + (2.0 - 0.5) ** 2, rel=1e-3)


def test_frechet_distance_of_shifted_and_rotated_gaussians_is_the_closed_form():
    """Shifted Gaussians with one covariance: FD = ‖shift‖². Diagonal covariances rotated by one
    orthogonal Q: FD = ‖Δμ‖² + Σ_i (√a_i − √b_i)², since FD does not change under a common rotation."""
    covariance = random_covariance(jax.random.key(3), 8)
    shift = np.arange(8) / 4.0
    a = gaussian_with_exact_moments(jax.random.key(4), 4000, np.zeros(8), covariance)
    b = gaussian_with_exact_moments(jax.random.key(5), 4000, shift, covariance)
    assert metrics.frechet_distance(a, b) == pytest.approx(shift @ shift, rel=1e-3)

    rotation, _ = np.linalg.qr(np.asarray(jax.random.normal(jax.random.key(6), (8, 8)), np.float64))
    variances_a, variances_b = np.linspace(0.5, 4.0, 8), np.linspace(3.0, 0.2, 8)
    mean_b = np.ones(8)
    expected = mean_b @ mean_b + np.sum((np.sqrt(variances_a) - np.sqrt(variances_b)) ** 2)
    covariance_a = rotation @ np.diag(variances_a) @ rotation.T
    covariance_b = rotation @ np.diag(variances_b) @ rotation.T
    assert metrics.gaussian_frechet_distance(np.zeros(8), covariance_a, rotation @ mean_b, covariance_b) == \
        pytest.approx(expected, rel=1e-6)
    a = gaussian_with_exact_moments(jax.random.key(7), 4000, np.zeros(8), covariance_a)
    b = gaussian_with_exact_moments(jax.random.key(8), 4000, rotation @ mean_b, covariance_b)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-3)


def test_gaussian_frechet_distance_agrees_with_scipy_sqrtm_on_full_rank_covariances():
    # an independent reference: Tr((Σ_a Σ_b)^{1/2}) straight from scipy's general matrix square root
    import scipy.linalg

    covariance_a, covariance_b = random_covariance(jax.random.key(11), 6), random_covariance(jax.random.key(12), 6)
    mean_a, mean_b = np.asarray(jax.random.normal(jax.random.key(13), (2, 6)), np.float64)
    reference = (np.sum((mean_a - mean_b) ** 2) + np.trace(covariance_a + covariance_b)
                 - 2 * np.real(np.trace(scipy.linalg.sqrtm(covariance_a @ covariance_b))))
    assert metrics.gaussian_frechet_distance(mean_a, covariance_a, mean_b, covariance_b) == pytest.approx(reference,
                                                                                                          rel=1e-9)


def test_frechet_distance_ignores_a_feature_that_is_always_zero():
    # singular covariances (a dead ReLU unit): the FD is that of the live features, without a warning
    a = gaussian_with_exact_moments(jax.random.key(9), 2000, np.zeros(3), np.diag([1.0, 4.0, 2.0]))
    b = gaussian_with_exact_moments(jax.random.key(10), 2000, np.array([1.0, 0.0, 0.0]), np.diag([4.0, 4.0, 2.0]))
    dead = np.zeros((2000, 1))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = metrics.frechet_distance(np.hstack([a, dead]), np.hstack([b, dead]))
    assert value == pytest.approx(1.0 + (1.0 - 2.0) ** 2, rel=1e-3)  # ‖Δμ‖² + Σ(σ_a − σ_b)²


def test_frechet_distance_rejects_images():
    with pytest.raises(ValueError, match="must be \\(N, d\\)"):
        metrics.frechet_distance(np.zeros((10, 28, 28, 1)), np.zeros((10, 28, 28, 1)))


def test_classifier_score_between_one_and_the_number_of_classes():
    confident_all_classes = np.eye(10)[np.arange(1000) % 10]
    assert metrics.classifier_score(confident_all_classes) == pytest.approx(10.0)
    assert metrics.classifier_score(np.eye(10)[np.zeros(1000, int)]) == pytest.approx(1.0)  # one class
    assert metrics.classifier_score(np.full((1000, 10), 0.1)) == pytest.approx(1.0)  # no opinion
    # confident over 5 of the 10 classes: exp(log 5) = 5
    assert metrics.classifier_score(np.eye(10)[np.arange(1000) % 5]) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="softmax"):
        metrics.classifier_score(np.ones((4, 10)))


def test_histogram_divergence():
    assert metrics.histogram_divergence(np.full(10, 0.1)) == pytest.approx(0.0)
    assert metrics.histogram_divergence(np.eye(10)[3]) == pytest.approx(np.log(10))


def test_precision_and_recall_of_identical_sets_are_one():
    features = np.asarray(jax.random.normal(jax.random.key(9), (600, 8)))
    result = metrics.precision_recall(features, features)
    assert result.precision == 1.0 and result.recall == 1.0


def test_a_generator_that_outputs_one_image_has_recall_near_zero():
    real = np.asarray(jax.random.normal(jax.random.key(10), (600, 8)))
    one_image = np.repeat(real[:1], 600, axis=0)  # it even copies a real point exactly
    result = metrics.precision_recall(real, one_image)
    assert result.precision == 1.0  # that one sample is realistic ...
    assert result.recall <= 1 / 600  # ... but covers at most itself
    far_away = real + 100.0
    assert metrics.precision_recall(real, far_away).precision == 0.0


def test_precision_and_recall_of_half_the_support():
    """Real data on [0, 1]², generated data only on its left half: precision ≈ 1, recall ≈ ½."""
    real = np.asarray(jax.random.uniform(jax.random.key(11), (4000, 2)))
    left = np.asarray(jax.random.uniform(jax.random.key(12), (4000, 2))) * np.array([0.5, 1.0])
    result = metrics.precision_recall(real, left)
    assert result.precision > 0.97 and 0.45 < result.recall < 0.6


def test_nearest_neighbours_find_exact_copies():
    references = np.asarray(jax.random.normal(jax.random.key(13), (200, 28, 28, 1)))
    distances, indices = metrics.nearest_neighbours(references[[5, 17, 123]], references)
    np.testing.assert_array_equal(indices[:, 0], [5, 17, 123])
    np.testing.assert_allclose(distances[:, 0], 0.0, atol=1e-3)


def test_training_vs_held_out_flags_copies_but_not_new_samples_good_or_bad():
    """Training and held-out sets of one distribution, the same size. New draws are as close to one as to the
    other (ratio ≈ 1) even when they are blurred away from the data; copies of training points (exact or with
    a little noise) are much closer to the training set; the training distance alone would punish the blur."""
    keys = jax.random.split(jax.random.key(14), 5)
    training, held_out, new = (np.asarray(jax.random.normal(k, (2000, 10))) for k in keys[:3])
    noise = 0.1 * np.asarray(jax.random.normal(keys[3], (500, 10)))
    blurred = 1.5 * new  # a worse generator: farther from all real points, but copying none of them
    results = {name: metrics.training_vs_held_out(samples, training, held_out)
               for name, samples in (("new", new), ("blurred", blurred), ("copies", training[:500]),
                                     ("noisy copies", training[:500] + noise))}
    assert 0.9 < np.median(results["new"].ratio) < 1.1
    assert 0.9 < np.median(results["blurred"].ratio) < 1.1
    assert np.median(results["blurred"].training_distance) > 1.3 * np.median(results["new"].training_distance)
    np.testing.assert_allclose(results["copies"].ratio, 0.0, atol=1e-3)
    np.testing.assert_array_equal(results["copies"].training_index, np.arange(500))
    assert np.median(results["noisy copies"].ratio) < 0.3
    assert "median ratio" in str(results["new"])
