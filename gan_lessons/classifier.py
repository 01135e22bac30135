"""A small CNN classifier for MNIST and Fashion-MNIST, used to judge generated images.

Chapter 05 teaches it; chapter 04 already uses it to check its claims: the
class histogram of generated digits (is every class there?) and the mean
max-softmax confidence (does each sample look like *some* digit?).
"""

from __future__ import annotations

import functools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from gan_lessons.checks import check_images, check_labels
from gan_lessons.compiling import jit
from gan_lessons.data import epoch_batches
from gan_lessons.running import run_steps
from gan_lessons.state import TrainState, apply_gradients

IMAGE_SHAPE = (28, 28, 1)  # MNIST and Fashion-MNIST, channels last

class Classifier(nnx.Module):
    """images (B, 28, 28, 1) in [-1, 1] → class logits (B, classes).

        Conv 3×3 + ReLU, max-pool 2   (B, 14, 14, 32)
        Conv 3×3 + ReLU, max-pool 2   (B, 7, 7, 64)
        flatten, Dense + ReLU         (B, 128)  ← ``features``: the representation chapter 05 measures distances in
        Dense                         (B, classes)
    """

    def __init__(self, classes: int = 10, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 32, (3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, (3, 3), rngs=rngs)
        self.hidden = nnx.Linear(7 * 7 * 64, 128, rngs=rngs)
        self.output = nnx.Linear(128, classes, rngs=rngs)

    def features(self, x):
        h = nnx.max_pool(jax.nn.relu(self.conv1(x)), (2, 2), strides=(2, 2))  # (B, 14, 14, 32)
        h = nnx.max_pool(jax.nn.relu(self.conv2(h)), (2, 2), strides=(2, 2))  # (B, 7, 7, 64)
        return jax.nn.relu(self.hidden(h.reshape(x.shape[0], -1)))  # (B, 128)

    def __call__(self, x):
        return self.output(self.features(x))  # (B, classes)


def make_classifier(key: jax.Array, classes: int = 10, learning_rate: float = 1e-3,
                    decay_steps: int | None = None) -> TrainState:
    """A fresh classifier and its Adam state, as a ``TrainState`` like the GAN's players.

    With ``decay_steps`` the learning rate follows a cosine from ``learning_rate`` to 0 over that many steps.
    """
    return TrainState.create(Classifier(classes, rngs=nnx.Rngs(key)), _optimizer(learning_rate, decay_steps))


@functools.cache
def _optimizer(learning_rate: float, decay_steps: int | None) -> optax.GradientTransformation:
    """Cached, like ``training.dcgan_optimizer``: the same object for the same settings lets a second
    classifier (chapter 05 trains two for CAS) reuse the compiled ``classifier_step``."""
    schedule = optax.cosine_decay_schedule(learning_rate, decay_steps) if decay_steps else learning_rate
    return optax.adam(schedule)


def _logits(state: TrainState, params, images):
    return nnx.merge(state.graphdef, params, state.batch_stats)(images)


def cross_entropy(logits, labels):
    """L = −(1/B) Σ_i log softmax(logits_i)[label_i]."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def random_shift(key, images, max_shift: int = 2):
    """Translate each image by up to ``max_shift`` pixels in each direction, filling with the background (−1).

    MNIST digits are centred by their centre of mass; shifted copies teach the
    classifier not to rely on that, which also makes it fairer to generated digits.
    """
    padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0)
    offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * max_shift + 1)
    crop = lambda image, offset: jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), images.shape[1:])
    return jax.vmap(crop)(padded, offsets)  # (B, 28, 28, 1)


@jit
def classifier_step(state: TrainState, images, labels, key=None):
    """One Adam step on the cross-entropy; with a ``key``, on randomly shifted images. Returns (state, loss)."""
    if key is not None:
        images = random_shift(key, images)
    loss, grads = jax.value_and_grad(lambda p: cross_entropy(_logits(state, p, images), labels))(state.params)
    return apply_gradients(state, grads, state.batch_stats), loss


@partial(jit, static_argnames=("augment",))
def _training_step(state: TrainState, images, labels, key, augment: bool = True):
    """``classifier_step`` in the form ``running.run_steps`` guards: (new state, metrics)."""
    state, loss = classifier_step(state, images, labels, key if augment else None)
    return state, {"loss": loss}


def train_classifier(state: TrainState, images, labels, key, epochs: int = 3, batch_size: int = 128,
                     augment: bool = True, progress: bool = True) -> tuple[TrainState, np.ndarray]:
    """Train for ``epochs`` passes over (images, labels) in shuffled batches; returns (state, losses).

    ``augment``: shift each training image by up to 2 pixels (``random_shift``). Each epoch runs through
    ``running.run_steps``, so a diverging classifier stops with ``TrainingDiverged`` like a GAN does.
    """
    check_images(images, "images", IMAGE_SHAPE)
    check_labels(labels, _classes(state), "labels", count=len(images))
    losses = []
    for epoch, epoch_key in enumerate(jax.random.split(key, epochs)):
        order_key, shift_key = jax.random.split(epoch_key)
        image_batches, label_batches = epoch_batches(order_key, (images, labels), batch_size)
        shift_keys = jax.random.split(shift_key, len(image_batches))
        states, metrics = run_steps(_training_step, {"classifier": state}, (image_batches, label_batches), shift_keys,
                                    static={"augment": augment}, progress=progress,
                                    description=f"classifier, epoch {epoch + 1}/{epochs}")
        state = states["classifier"]
        losses.append(metrics["loss"])
    return state, np.concatenate(losses)


@partial(jit, static_argnames=("what",))
def _apply(state: TrainState, images, what: str):
    model = nnx.merge(state.graphdef, state.params, state.batch_stats)
    return model.features(images) if what == "features" else jax.nn.softmax(model(images))


def _classes(state: TrainState) -> int:
    return nnx.merge(state.graphdef, state.params, state.batch_stats).output.out_features


def _batched(state, images, what, batch_size=1000):
    check_images(images, "images", IMAGE_SHAPE)
    images = jnp.asarray(images)
    parts = [_apply(state, images[i:i + batch_size], what) for i in range(0, len(images), batch_size)]
    return np.concatenate([np.asarray(p) for p in parts])


def predict_probabilities(state: TrainState, images, batch_size: int = 1000) -> np.ndarray:
    """softmax(logits): (N, classes), computed in batches so 10,000 images fit in memory."""
    return _batched(state, images, "probabilities", batch_size)


def classifier_features(state: TrainState, images, batch_size: int = 1000) -> np.ndarray:
    """The penultimate layer's activations, (N, 128)."""
    return _batched(state, images, "features", batch_size)


def accuracy(state: TrainState, images, labels) -> float:
    """The share of ``images`` whose most probable class is their label."""
    check_labels(labels, _classes(state), "labels", count=len(images))
    return float(np.mean(predict_probabilities(state, images).argmax(axis=1) == np.asarray(labels)))


def class_histogram(probabilities) -> np.ndarray:
    """The share of samples assigned to each class (argmax): (classes,), summing to 1.

    A generator that covers every mode gives about 1/classes each; a collapsed one piles onto a few.
    """
    probabilities = np.asarray(probabilities)
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    return counts / counts.sum()


def judge(state: TrainState, images) -> tuple[np.ndarray, float]:
    """(class histogram, mean confidence) of the classifier on ``images``: the two numbers chapter 04 reports."""
    probabilities = predict_probabilities(state, images)
    return class_histogram(probabilities), mean_confidence(probabilities)


def mean_confidence(probabilities) -> float:
    """(1/N) Σ_i max_c p(c | x_i): near 1 when each sample clearly looks like one class. Noise can score high too
    (chapters 03 and 06 print 1.00 for an untrained or collapsed G): read it with the class histogram (`judge`)."""
    return float(np.mean(np.max(np.asarray(probabilities), axis=1)))
