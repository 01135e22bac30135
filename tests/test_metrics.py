"""Mode coverage on samples whose answer is known exactly."""

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
