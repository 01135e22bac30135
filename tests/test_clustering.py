"""Clustering scores on partitions whose answers are known by hand."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from gan_lessons import clustering


def test_relabelled_partition_scores_perfectly():
    classes = np.repeat(np.arange(5), 20)
    clusters = (classes + 3) % 5  # the same groups under other names
    scores = clustering.score_clustering(clusters, classes)
    assert scores.accuracy == 1.0 and scores.nmi == pytest.approx(1.0) and scores.ari == pytest.approx(1.0)
    assert clustering.cluster_to_class_map(clusters, classes) == {(c + 3) % 5: c for c in range(5)}


def test_accuracy_of_a_hand_counted_case():
    # clusters 0 and 1 both hold mostly class 0; the matching can give class 0 to only one of them
    classes = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 1])
    clusters = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    # best one-to-one map: cluster 0 → class 0 (4 right), cluster 1 → class 1 (2 right): 6 of 10
    # (cluster 0 → 1, cluster 1 → 0 gets 1 + 3 = 4)
    assert clustering.clustering_accuracy(clusters, classes) == pytest.approx(0.6)


def test_accuracy_is_never_below_chance_matching_and_agrees_with_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        classes = rng.integers(0, 4, 60)
        clusters = rng.integers(0, 4, 60)
        table = np.zeros((4, 4))
        np.add.at(table, (clusters, classes), 1)
        rows, columns = linear_sum_assignment(-table)
        assert clustering.clustering_accuracy(clusters, classes) == pytest.approx(table[rows, columns].sum() / 60)
        import itertools
        brute = max(sum(table[i, p[i]] for i in range(4)) for p in itertools.permutations(range(4))) / 60
        assert clustering.clustering_accuracy(clusters, classes) == pytest.approx(brute)


def test_random_partition_scores_near_zero_nmi_and_ari():
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 10, 5000)
    clusters = rng.integers(0, 10, 5000)
    scores = clustering.score_clustering(clusters, classes)
    assert scores.ari == pytest.approx(0.0, abs=0.01) and scores.nmi < 0.01
    assert 0.1 <= scores.accuracy < 0.13  # chance is 1/10, and the matching picks the luckiest map


def test_more_clusters_than_classes_leaves_extra_clusters_wrong():
    classes = np.array([0, 0, 1, 1])
    clusters = np.array([0, 1, 2, 3])  # every point alone: only two clusters can be matched
    assert clustering.clustering_accuracy(clusters, classes) == pytest.approx(0.5)


def test_kmeans_finds_separated_blobs():
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(4, 5)) * 10
    classes = np.repeat(np.arange(4), 50)
    points = centres[classes] + rng.normal(size=(200, 5))
    assignments, found = clustering.kmeans(points, 4)
    assert clustering.clustering_accuracy(assignments, classes) == 1.0 and found.shape == (4, 5)


def test_bad_labels_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="integer labels"):
        clustering.clustering_accuracy(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="3 cluster assignments for 2 labels"):
        clustering.clustering_accuracy(np.array([0, 1, 1]), np.array([0, 1]))
