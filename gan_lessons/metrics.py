"""Numbers that describe a generator's samples. Chapter 02 counts modes on 2-D mixtures.

Chapter 05 adds the image metrics; they will live here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int  # modes holding at least ``min_share`` of the samples within 3σ
    modes_total: int
    high_quality_share: float  # share of samples within 3σ of some mode
    mode_shares: np.ndarray  # (modes,) share of all samples within 3σ of each mode

    def __str__(self):
        return (f"modes covered {self.modes_covered}/{self.modes_total}, "
                f"high-quality samples {self.high_quality_share:.1%}")


def mode_coverage(samples, centres, std: float, min_share: float = 0.01, radius_in_std: float = 3.0) -> ModeCoverage:
    """The two standard numbers for a mixture of Gaussians (Srivastava et al. 2017, VEEGAN):

        high-quality share = (1/N) Σ_i 1[ min_k ‖x_i − μ_k‖ ≤ 3σ ]
        mode k covered     ⇔ (1/N) Σ_i 1[ argmin_j ‖x_i − μ_j‖ = k and ‖x_i − μ_k‖ ≤ 3σ ] ≥ 1 %
    """
    samples, centres = np.asarray(samples, np.float64), np.asarray(centres, np.float64)
    if samples.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples must be (N, {centres.shape[1]}), got {samples.shape}")
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)  # (N, modes)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(samples)), nearest] <= radius_in_std * std
    shares = np.bincount(nearest[close], minlength=len(centres)) / len(samples)
    return ModeCoverage(int(np.sum(shares >= min_share)), len(centres), float(close.mean()), shares)
