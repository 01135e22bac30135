"""Scoring a clustering against the true classes, which it never saw.

A clustering names its groups 0..K−1 in an arbitrary order, so "accuracy" needs a matching first:
the one-to-one map from clusters to classes that agrees with the most labels, found by the Hungarian
algorithm (``scipy.optimize.linear_sum_assignment``) on the K×K contingency table:

    ACC = max over one-to-one maps m of (1/N) Σ_i [m(cluster_i) = class_i]

NMI and ARI (scikit-learn) do not need a matching: they compare the partitions themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def _as_labels(values, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D array of integer labels, got shape {values.shape} "
                         f"and dtype {values.dtype}")
    return values


def cluster_to_class_map(clusters, classes) -> dict[int, int]:
    """The Hungarian matching: {cluster: class}, one-to-one, agreeing with as many labels as possible.

    With more clusters than classes, the extra clusters stay unmatched (and count as wrong).
    """
    clusters, classes = _as_labels(clusters, "clusters"), _as_labels(classes, "classes")
    cluster_ids, class_ids = np.unique(clusters), np.unique(classes)
    table = contingency_matrix(clusters, classes)  # (clusters, classes): how many of each pair
    rows, columns = linear_sum_assignment(table, maximize=True)
    return {int(cluster_ids[row]): int(class_ids[column]) for row, column in zip(rows, columns)}


def clustering_accuracy(clusters, classes) -> float:
    """ACC: the share of points whose cluster's matched class is their class (see the module docstring)."""
    clusters, classes = _as_labels(clusters, "clusters"), _as_labels(classes, "classes")
    if len(clusters) != len(classes):
        raise ValueError(f"{len(clusters)} cluster assignments for {len(classes)} labels")
    mapping = cluster_to_class_map(clusters, classes)
    matched = np.array([mapping.get(int(cluster), -1) for cluster in clusters])
    return float(np.mean(matched == classes))


@dataclass(frozen=True)
class ClusteringScores:
    accuracy: float
    nmi: float
    ari: float

    def __str__(self):
        return f"ACC {self.accuracy:.3f}  NMI {self.nmi:.3f}  ARI {self.ari:.3f}"


def score_clustering(clusters, classes) -> ClusteringScores:
    """ACC (Hungarian), NMI and ARI of a clustering against the true classes."""
    clusters, classes = _as_labels(clusters, "clusters"), _as_labels(classes, "classes")
    return ClusteringScores(clustering_accuracy(clusters, classes),
                            float(normalized_mutual_info_score(classes, clusters)),
                            float(adjusted_rand_score(classes, clusters)))


def kmeans(features, clusters: int = 10, seed: int = 0, restarts: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """k-means (scikit-learn, k-means++ starts, best of ``restarts``): (assignments (N,), centres (K, F))."""
    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    model = KMeans(n_clusters=clusters, n_init=restarts, random_state=seed).fit(features)
    return model.labels_.astype(np.int64), model.cluster_centers_
