"""Features from a trained network, and the tests of how good they are: linear probes and k-NN.

A feature is good for a task if a *simple* model on top of it does the task well. The standard test
(DCGAN §5.1, and every self-supervised paper since) is a linear probe: freeze the network, take its
activations, and fit multinomial logistic regression with few labels:

    p(y | x) = softmax(W φ(x) + b),   W, b minimise  −Σ_i log p(y_i | x_i) + ‖W‖² / (2C)

Only W and b see labels; φ was learned without them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from gan_lessons.compiling import jit
from gan_lessons.state import TrainState, in_batches


def pooled(activation, grid: int = 4):
    """(B, H, W, C) → (B, grid·grid·C): max-pool each map to a grid×grid summary (DCGAN §5.1 used 4×4).

    Pooling keeps *what* fired and roughly *where*, in far fewer numbers than the whole map.
    """
    batch, height, width, channels = activation.shape
    if height % grid or width % grid:  # 7×7 maps onto a 4×4 grid: pad with −inf, which max-pooling ignores
        pad_h, pad_w = (-height) % grid, (-width) % grid
        activation = jnp.pad(activation, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=-jnp.inf)
        height, width = height + pad_h, width + pad_w
    blocks = activation.reshape(batch, grid, height // grid, grid, width // grid, channels)
    return blocks.max(axis=(2, 4)).reshape(batch, -1)  # (B, grid·grid·C)


def _extractor(state: TrainState, grid: int | None, layers: tuple[int, ...] | None = None):
    model = state.model(train=False)  # evaluation mode: each image's features depend on it alone

    @jit
    def extract(images):
        parts = []
        activations = model.features(images)
        for activation in activations if layers is None else [activations[index] for index in layers]:
            if activation.ndim == 4 and grid:
                parts.append(pooled(activation, grid))  # (B, grid·grid·C)
            else:
                parts.append(activation.reshape(images.shape[0], -1))  # (B, everything)
        return jnp.concatenate(parts, axis=1)

    return extract


def network_features(state: TrainState, images, grid: int | None = 4, batch_size: int = 1000,
                     layers: tuple[int, ...] | None = None) -> np.ndarray:
    """Every layer of ``state``'s model's ``features(x)``, pooled to grid×grid (None: whole maps), side by side;
    ``layers`` (indices into that list, say ``(-1,)``) keeps only those.

    Works for any model with a ``features`` method: a discriminator, an encoder, the classifier.
    Returns float32 (N, F).
    """
    return in_batches(_extractor(state, grid, layers), images, batch_size)


def pixel_features(images) -> np.ndarray:
    """The baseline: every pixel a feature, (N, 784)."""
    return np.asarray(images, dtype=np.float32).reshape(len(images), -1)


def balanced_subset(labels, count: int, key: jax.Array) -> np.ndarray:
    """Indices of ``count`` examples, count/K of each of the K classes, drawn without replacement from ``key``."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if count % len(classes):
        raise ValueError(f"count={count} does not split evenly over {len(classes)} classes: pass a multiple "
                         f"of {len(classes)}")
    per_class = count // len(classes)
    return np.concatenate([np.asarray(jax.random.choice(class_key, np.flatnonzero(labels == c), (per_class,),
                                                        replace=False))
                           for c, class_key in zip(classes, jax.random.split(key, len(classes)))])


def linear_probe(train_features, train_labels, test_features, test_labels, regularisation: float = 1.0,
                 max_iter: int = 100) -> float:
    """Test accuracy of logistic regression (standardised features, L2 strength 1/C) fit on the train part.

    ``max_iter`` caps the L-BFGS iterations: with 60,000 labelled images and thousands of features a fit to
    full convergence takes minutes per feature set on a laptop CPU; the cap makes the probe a fixed budget,
    the same for every feature set, and the "not converged" warning is expected, so it is silenced.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(train_features, train_labels)
    return float(probe.score(test_features, test_labels))


def knn_accuracy(train_features, train_labels, test_features, test_labels, neighbours: int = 5) -> float:
    """Test accuracy of a k-nearest-neighbour vote (Euclidean, standardised features)."""
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(neighbours))
    model.fit(train_features, train_labels)
    return float(model.score(test_features, test_labels))


@dataclass(frozen=True)
class ProbeResult:
    labels: int
    accuracies: tuple[float, ...]  # one per draw of the labelled set

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def spread(self) -> float:
        """The sample standard deviation over draws (ddof = 1; 0 for a single draw)."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    def __str__(self):
        return f"{self.mean:.4f} ± {self.spread:.4f}" if len(self.accuracies) > 1 else f"{self.mean:.4f}"


def probe_with_labels(train_features, train_labels, test_features, test_labels, label_count: int | None,
                      key: jax.Array | None = None, draws: int = 5, regularisation: float = 1.0) -> ProbeResult:
    """The linear probe with ``label_count`` labelled training images (None: all), over ``draws`` draws.

    Each draw is a new class-balanced subset (``balanced_subset`` with one of ``jax.random.split(key, draws)``):
    the same key gives every feature set the same labelled images. With all labels there is nothing to draw,
    so one fit, and no key is needed.
    """
    labelled_sets = labelled_draws(train_labels, label_count, key, draws)
    return ProbeResult(len(labelled_sets[0]), tuple(
        linear_probe(train_features[chosen], train_labels[chosen], test_features, test_labels, regularisation)
        for chosen in labelled_sets))


def shifted_copies(images, radius: int = 2, background: float = -1.0) -> np.ndarray:
    """``images`` (N, H, W, C) and their copies moved by every (dy, dx) with |dy|, |dx| ≤ ``radius`` pixels, the
    uncovered border filled with ``background`` (−1: the course's black): (N·(2·radius + 1)², H, W, C), one whole
    copy of the N images after another, the unmoved one in the middle.

    Fitting a probe on these teaches W that a digit moved by a pixel or two is the same digit, which 10 labelled
    images per class cannot show it; SimCLR's linear evaluation (Chen et al. 2020) fits its probe on random crops
    for the same reason. The features stay frozen and the probe stays linear.
    """
    images = np.asarray(images, dtype=np.float32)
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), constant_values=background)
    moves = range(-radius, radius + 1)
    return np.concatenate([padded[:, radius - dy:radius - dy + height, radius - dx:radius - dx + width]
                           for dy in moves for dx in moves])


def shifted_probe(featurise, train_images, train_labels, test_features, test_labels, label_count: int,
                  key: jax.Array, draws: int = 5, radius: int = 2, regularisation: float = 1.0) -> ProbeResult:
    """``probe_with_labels`` (the same draws for the same key), each probe fit on its labelled images and their
    ``shifted_copies``: ``featurise`` maps images (M, H, W, C) to features (M, F), as ``network_features`` or
    ``pixel_features`` do. The test images are scored as they are; ``radius=0`` is the plain probe.
    """
    accuracies = []
    for chosen in labelled_draws(train_labels, label_count, key, draws):
        copies = shifted_copies(np.asarray(train_images)[chosen], radius)
        labels = np.tile(np.asarray(train_labels)[chosen], len(copies) // len(chosen))
        accuracies.append(linear_probe(featurise(copies), labels, test_features, test_labels, regularisation))
    return ProbeResult(len(chosen), tuple(accuracies))


def labelled_draws(train_labels, label_count: int | None, key: jax.Array | None = None,
                   draws: int = 5) -> list[np.ndarray]:
    """The labelled training images of each draw, as index arrays: ``draws`` class-balanced subsets of
    ``label_count`` (``balanced_subset`` with one of ``jax.random.split(key, draws)``), or, for None or every
    label, one set holding every index."""
    if label_count is None or label_count >= len(train_labels):
        return [np.arange(len(train_labels))]
    if key is None:
        raise ValueError(f"probing with {label_count} labels draws labelled subsets: pass key=jax.random.key(...)")
    return [balanced_subset(train_labels, label_count, draw_key) for draw_key in jax.random.split(key, draws)]


def choose_by_validation(train_sets: dict, train_labels, label_count: int | None, key: jax.Array | None = None,
                         draws: int = 5, folds: int = 5, regularisation: float = 1.0,
                         largest_cross_validation: int = 10_000, progress: bool = False) -> list[str]:
    """For each draw of ``probe_with_labels`` (same ``key``, same labelled images), the name of the feature set
    in ``train_sets`` ({name: (N, F) training features}) whose probe scores best on held-out labelled images.

    Picking the best row of a table by its *test* score flatters it: the test set has then been used to choose.
    Here only the draw's own labels are read. Up to ``largest_cross_validation`` labelled images: ``folds``-fold
    stratified cross-validation (with 100 labels, every image is held out once). More than that: one stratified
    split holding out 1/``folds`` of them (12,000 of 60,000 validate well enough, and five fits per feature set
    would take minutes). Ties go to the set listed first. ``progress``: a bar over the draws.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=100))
    choices = []
    all_draws = labelled_draws(train_labels, label_count, key, draws)
    for draw, chosen in enumerate(tqdm(all_draws, desc=f"{label_count or 'all'} labels", disable=not progress)):
        labels = np.asarray(train_labels)[chosen]
        if len(chosen) <= largest_cross_validation:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=draw)
        else:
            splitter = StratifiedShuffleSplit(1, test_size=1 / folds, random_state=draw)
        scores = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for name, values in train_sets.items():
                scores[name] = float(np.mean(cross_val_score(probe, values[chosen], labels, cv=splitter)))
        choices.append(max(scores, key=scores.get))  # max keeps the first of equal scores
    return choices
