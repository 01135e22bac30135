"""Numbers that describe a generator's samples.

Chapter 02 counts modes on 2-D mixtures. Chapter 05 adds the image metrics, all computed on
features or class probabilities from the evaluation classifier (``classifier.classifier_features``,
``classifier.predict_probabilities``): Fréchet distance, the classifier ("Inception-style") score,
precision and recall of k-NN manifolds, the class histogram's distance from uniform, the
classification accuracy score, and nearest neighbours for memorisation checks (training against
held-out).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from scipy.special import rel_entr
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors


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


# ------------------------------------------------------------------ Fréchet distance


def gaussian_frechet_distance(mean_a, covariance_a, mean_b, covariance_b) -> float:
    """The Fréchet (2-Wasserstein²) distance between N(μ_a, Σ_a) and N(μ_b, Σ_b):

        FD = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})

    For 1-D Gaussians this is (μ_a − μ_b)² + (σ_a − σ_b)².

    The trace of the root is computed as Tr((Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}), the same number: that matrix
    is symmetric positive semi-definite, so its eigenvalues are real and ≥ 0 even when the covariances are
    singular (a feature that is always 0 in one set, as ReLU features can be within one class).
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    covariance_a = np.atleast_2d(covariance_a).astype(np.float64)
    covariance_b = np.atleast_2d(covariance_b).astype(np.float64)
    root_a = _symmetric_square_root(covariance_a)
    middle = root_a @ covariance_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)  # symmetrised against rounding
    trace_of_root = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))  # rounding can leave tiny negatives
    difference = mean_a - mean_b
    return float(difference @ difference + np.trace(covariance_a) + np.trace(covariance_b) - 2 * trace_of_root)


def _symmetric_square_root(matrix):
    """S^{1/2} of a symmetric positive semi-definite S, from its eigendecomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(features_a, features_b) -> float:
    """FD between Gaussians fitted to two feature sets (N, d) and (M, d): FID's formula on our features.

    ``gaussian_frechet_distance`` of the two sample means and covariances. Lower is better; two samples of
    the same distribution give a small positive number (their sampling noise), not 0.
    """
    features_a, features_b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"feature sizes differ: {features_a.shape[1]} vs {features_b.shape[1]}")
    return gaussian_frechet_distance(features_a.mean(0), np.cov(features_a, rowvar=False),
                                     features_b.mean(0), np.cov(features_b, rowvar=False))


def _features(features, name: str) -> np.ndarray:
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"{name} must be (N, d) with N ≥ 2 (one feature vector per row), got shape {features.shape}; "
                         "flatten images or take classifier_features first")
    return features


# ------------------------------------------------------------------ classifier score


def classifier_score(probabilities) -> float:
    """The Inception score's formula with our classifier: exp(E_x[KL(p(y|x) ‖ p(y))]), p(y) = E_x[p(y|x)].

    High when each sample is confidently one class (sharp p(y|x)) and the classes are used evenly (flat
    p(y)). It lies between 1 and the number of classes; it says nothing about whether samples look like
    the data beyond that, and a generator that outputs one perfect image per class reaches the maximum.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be (N, classes) with rows summing to 1: pass softmax outputs "
                         "(classifier.predict_probabilities), not logits")
    marginal = probabilities.mean(axis=0)
    return float(np.exp(np.mean(np.sum(rel_entr(probabilities, marginal[None]), axis=1))))


def histogram_divergence(shares) -> float:
    """KL(class histogram ‖ uniform) = Σ_c s_c log(C · s_c): 0 when every class is equally common,
    log C (2.30 for 10 classes) when every sample is one class. A mode-collapse number."""
    shares = np.asarray(shares, np.float64)
    return float(np.sum(rel_entr(shares, np.full_like(shares, 1.0 / len(shares)))))


# ------------------------------------------------------------------ precision and recall


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float  # share of generated samples inside the real manifold: are the samples realistic?
    recall: float  # share of real samples inside the generated manifold: is all of the data covered?

    def __str__(self):
        return f"precision {self.precision:.3f}, recall {self.recall:.3f}"


def knn_radii(features, k: int = 3) -> np.ndarray:
    """The distance from each point to its k-th nearest *other* point in the same set: (N,)."""
    features = _features(features, "features")
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]  # column 0 is the point itself


def inside_manifold(reference, radii, queries, chunk: int = 2000) -> np.ndarray:
    """For each query, whether it lies in some ball B(reference_j, radii_j): (M,) booleans."""
    reference, queries = np.asarray(reference, np.float64), np.asarray(queries, np.float64)
    inside = [np.any(pairwise_distances(queries[i:i + chunk], reference) <= radii[None, :], axis=1)
              for i in range(0, len(queries), chunk)]
    return np.concatenate(inside)


def precision_recall(real_features, fake_features, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019):

        manifold(S) = ∪_{s ∈ S} B(s, distance from s to its k-th nearest neighbour in S)
        precision   = (1/M) Σ_j 1[fake_j ∈ manifold(real)]
        recall      = (1/N) Σ_i 1[real_i ∈ manifold(fake)]

    Identical sets give 1 and 1; a generator that repeats one image has recall ≈ 0.
    """
    real, fake = _features(real_features, "real_features"), _features(fake_features, "fake_features")
    precision = inside_manifold(real, knn_radii(real, k), fake).mean()
    recall = inside_manifold(fake, knn_radii(fake, k), real).mean()
    return PrecisionRecall(float(precision), float(recall))


# ------------------------------------------------------------------ memorisation


def nearest_neighbours(queries, references, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances (M, k) and indices (M, k) of each query's k nearest references.

    Images are compared as flat pixel vectors; pass features to compare in feature space.
    """
    queries = np.asarray(queries, np.float32).reshape(len(queries), -1)
    references = np.asarray(references, np.float32).reshape(len(references), -1)
    return NearestNeighbors(n_neighbors=k).fit(references).kneighbors(queries)


@dataclass(frozen=True)
class TrainingVsHeldOut:
    training_distance: np.ndarray  # (M,) from each sample to its nearest training item
    training_index: np.ndarray  # (M,) which training item that is
    held_out_distance: np.ndarray  # (M,) from each sample to its nearest held-out item

    @property
    def ratio(self) -> np.ndarray:
        """(M,) training distance / held-out distance: 0 for a copy of a training item."""
        return self.training_distance / np.maximum(self.held_out_distance, 1e-12)

    def __str__(self):
        return (f"median distance to the nearest training item {np.median(self.training_distance):.2f}, "
                f"held-out item {np.median(self.held_out_distance):.2f}, median ratio {np.median(self.ratio):.2f}")


def training_vs_held_out(samples, training, held_out) -> TrainingVsHeldOut:
    """Each sample's distance to its nearest training item beside its distance to its nearest held-out item:

        r_i = min_j ‖x_i − train_j‖ / min_j ‖x_i − held_out_j‖

    A copy of a training item has r = 0. A sample that is new, good or bad, is about as far from the
    training set as from held-out data of the same distribution, so r does not depend on sample quality the
    way the training distance alone does (blurry samples are far from both). More reference points leave a
    nearer one, so compare r with that of new real items against the same two sets, not with 1.
    Images are compared as flat pixel vectors; pass features to compare in feature space.
    """
    training_distance, training_index = nearest_neighbours(samples, training)
    held_out_distance, _ = nearest_neighbours(samples, held_out)
    return TrainingVsHeldOut(training_distance[:, 0], training_index[:, 0], held_out_distance[:, 0])


# ------------------------------------------------------------------ classification accuracy score


def classification_accuracy_score(train_images, train_labels, test_images, test_labels, key,
                                  epochs: int = 3, progress: bool = False) -> float:
    """CAS (Ravuri & Vinyals 2019): train the evaluation classifier's architecture on ``train_images``
    (generated samples with the classes they were generated for) and return its accuracy on real test data.

    Run it once on real training images too: that accuracy is the reference a perfect generator would reach.
    """
    from gan_lessons.classifier import accuracy, make_classifier, train_classifier

    train_labels = np.asarray(train_labels)
    if len(train_images) != len(train_labels):
        raise ValueError(f"{len(train_images)} images but {len(train_labels)} labels")
    init_key, train_key = jax.random.split(key)
    state = make_classifier(init_key)
    state, _ = train_classifier(state, np.asarray(train_images), train_labels, train_key, epochs=epochs,
                                progress=progress)
    return accuracy(state, test_images, test_labels)
