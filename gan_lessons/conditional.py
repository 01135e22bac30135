"""Training a class-conditional GAN: the two steps of ``training``, with a label given to both players.

D learns "is x a real image of class y?" on pairs (x, y); G learns to draw images that D accepts for
the label it was asked for. Real and fake batches carry the same labels, so D cannot tell them apart
by their classes, only by how well each image fits its label:

    L_D = −E_(x,y)~data[log σ(ℓ(x, y))] − E_z,y[log(1 − σ(ℓ(G(z, y), y)))]
    L_G = −E_z,y[log σ(ℓ(G(z, y), y))]                      (non-saturating)
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from gan_lessons import data, losses
from gan_lessons.checks import check_images, check_labels, check_latent
from gan_lessons.compiling import jit
from gan_lessons.losses import r1_penalty
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState, apply_model, latent_dim, sample_latent
from gan_lessons.steps import discriminator_step, generator_step, logit_metrics


def _d_step(d_state, g_state, images, labels, key, r1_weight):
    z = sample_latent(key, images.shape[0], latent_dim(g_state))
    fake, _ = apply_model(g_state, g_state.params, g_state.batch_stats, (z, labels), train=True)
    fake = lax.stop_gradient(fake)  # fakes of the same classes as the real batch; D's loss must not reach G

    def d_loss(params, stats, real_logits, fake_logits):
        loss = losses.d_loss(real_logits, fake_logits)
        if r1_weight:  # static: traced only when asked for
            loss = loss + r1_weight * r1_penalty(d_state, params, d_state.batch_stats, images, labels)
        return loss, stats, logit_metrics(real_logits, fake_logits)

    return discriminator_step(d_state, (images, labels), (fake, labels), d_loss)


def _g_step(g_state, d_state, labels, key):
    z = sample_latent(key, labels.shape[0], latent_dim(g_state))

    def g_loss(params):
        fake, stats = apply_model(g_state, params[0], g_state.batch_stats, (z, labels), train=True)
        fake_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, (fake, labels), train=True)
        return losses.g_loss_non_saturating(fake_logits), ((stats,), {})

    (g_state,), metrics = generator_step((g_state,), g_loss)
    return g_state, metrics


@partial(jit, static_argnames=("r1_weight",))
def train_step(d_state: TrainState, g_state: TrainState, images, labels, key, r1_weight: float = 0.0):
    """One D update on (images, labels) and as many fakes of the same labels, then one G update.

    Returns (d_state, g_state, metrics). G is asked for the batch's labels too, so it learns the
    classes in the proportions the data has them.
    """
    d_key, g_key = jax.random.split(key)
    d_state, d_metrics = _d_step(d_state, g_state, images, labels, d_key, r1_weight)
    g_state, g_metrics = _g_step(g_state, d_state, labels, g_key)
    return d_state, g_state, {**d_metrics, **g_metrics}


def train(d_state, g_state, images, labels, key, steps: int, batch_size: int = 64, r1_weight: float = 0.0,
          progress=True, description="conditional DCGAN", checkpointing: Checkpointing | None = None):
    """``steps`` training steps on shuffled (images, labels) batches; returns (d_state, g_state, metrics).

    A Python loop over the jitted step: the fastest runner for convolutional models on CPU (see
    ``training.choose_runner``).
    """
    check_images(images, "images")
    check_labels(labels, _classes(g_state), "labels", count=len(images))
    labels = np.asarray(labels)
    data_key, train_key = jax.random.split(key)
    image_batches, label_batches = data.batches_for_steps(data_key, (images, labels), batch_size, steps)
    states, metrics = run_steps(train_step, {"discriminator": d_state, "generator": g_state},
                                (image_batches, label_batches), jax.random.split(train_key, steps),
                                static={"r1_weight": r1_weight}, description=description, progress=progress,
                                checkpointing=checkpointing)
    return states["discriminator"], states["generator"], metrics


def _classes(g_state: TrainState) -> int:
    return nnx.merge(g_state.graphdef, g_state.params, g_state.batch_stats).classes


def generate(g_state: TrainState, z: jax.Array, labels: jax.Array) -> jax.Array:
    """G(z, y) in evaluation mode: one image of class ``labels[i]`` for each ``z[i]``.

    A label out of range would be one-hot encoded as all zeros (no class at all): it is an error here.
    """
    check_latent(z, latent_dim(g_state))
    check_labels(labels, _classes(g_state), "labels", count=len(z))
    return _generate(g_state, z, labels)


@jit
def _generate(g_state: TrainState, z: jax.Array, labels: jax.Array) -> jax.Array:
    return apply_model(g_state, g_state.params, g_state.batch_stats, (z, labels), train=False)[0]


def generate_classes(g_state: TrainState, key: jax.Array, per_class: int, classes: int = 10):
    """``per_class`` samples of every class: (images (classes·per_class, 28, 28, 1), labels), labels 0,0,…,1,1,…"""
    labels = jnp.repeat(jnp.arange(classes), per_class)
    return generate(g_state, sample_latent(key, len(labels), latent_dim(g_state)), labels), labels
