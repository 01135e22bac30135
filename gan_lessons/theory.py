"""The minimax game in closed form, for densities tabulated on a grid (chapter 01)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon


def optimal_discriminator(p_data, p_generator):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x))  (Goodfellow et al. 2014, Proposition 1)."""
    p_data, p_generator = np.asarray(p_data, np.float64), np.asarray(p_generator, np.float64)
    return p_data / (p_data + p_generator)


def jensen_shannon_divergence(p, q):
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, in nats.

    ``p`` and ``q`` are densities (or histograms) on the same evenly spaced
    grid; each is normalised to sum to one, so the grid spacing cancels. Lies
    in [0, log 2]. Computed with scipy, which returns the square root.
    """
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=np.e) ** 2)


def value_at_optimal_discriminator(p_data, p_generator, dx):
    """C(G) = V(D*, G) = ∫ p_data log D* + p_g log(1 − D*) dx, by the rectangle rule.

    Goodfellow et al. (Theorem 1): C(G) = −log 4 + 2·JSD(p_data ‖ p_g).
    Points where a density is 0 contribute 0 (the limit of p log p).
    """
    p_data, p_generator = np.asarray(p_data, np.float64), np.asarray(p_generator, np.float64)
    # log D* = log p_data − log(p_data + p_g) and log(1 − D*) = log p_g − log(p_data + p_g):
    # written with log-densities, since 1 − D* rounds to 0 where p_g ≪ p_data
    with np.errstate(divide="ignore", invalid="ignore"):
        log_total = np.log(p_data + p_generator)
        real_term = np.where(p_data > 0, p_data * (np.log(p_data) - log_total), 0.0)
        fake_term = np.where(p_generator > 0, p_generator * (np.log(p_generator) - log_total), 0.0)
    return float(np.sum(real_term + fake_term) * dx)
