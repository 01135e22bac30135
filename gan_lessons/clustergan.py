"""ClusterGAN (Mukherjee et al. 2019): a GAN with a clustered latent space and an encoder back into it.

The latent code is a one-hot cluster code plus Gaussian noise, z = (z_n, z_c) with
z_n ~ N(0, σ²I) and z_c one of K one-hot vectors, so the prior is K blobs (σ: see ``NOISE_STD``).
An encoder E maps images back to (ẑ_n, ẑ_c logits), trained with G to invert it:

    L_D     = −E_x[log σ(ℓ(x))] − E_z[log(1 − σ(ℓ(G(z))))]
    L_(G,E) = −E_z[log σ(ℓ(G(z)))] + β_n E_z[‖z_n − ẑ_n(G(z))‖² / d] + β_c E_z[CE(z_c, ẑ_c(G(z)))]

with β_n = β_c = 10 as in the paper, d the noise dimension, and the course's non-saturating loss for the
adversarial part. The noise error is averaged over the d dimensions, as the reference code's mean squared
error does: summed, it starts near β_n·d·σ² = 170 and drowns the adversarial term (measured: G drew no digits).

Unlike InfoGAN's Q, E is a network of its own and also recovers the noise, so
G cannot hide the cluster in a few pixels the noise also moves. A real image's cluster is E's guess.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from gan_lessons import data, losses
from gan_lessons.checks import check_images
from gan_lessons.compiling import jit
from gan_lessons.infogan import INFOGAN, information_loss
from gan_lessons.models import ConditionalDCGANGenerator, DCGANConfig, DCGANDiscriminator, LatentEncoder
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState, adam, apply_model, in_batches, latent_dim
from gan_lessons.steps import discriminator_step, generator_step

# σ of z_n. The paper says 0.1; with it, our G (BatchNorm right after its first layer, which rescales the tiny
# noise part away) drew one image per cluster code (measured: ACC 0.18, every row of samples identical). A
# PyTorch reimplementation in wide use (zhampel/clusterGAN) draws z_n with 0.75, which we follow.
NOISE_STD = 0.75
NOISE_WEIGHT = 10.0  # β_n
CLUSTER_WEIGHT = 10.0  # β_c
CLUSTERGAN = DCGANConfig("clustergan", 30, *(getattr(INFOGAN, field) for field in
                                            ("projection_channels", "generator_layers", "discriminator_channels",
                                             "kernel_size")))


def make_clustergan(key: jax.Array, clusters: int = 10, config: DCGANConfig = CLUSTERGAN,
                    generator_learning_rate: float = 1e-3, discriminator_learning_rate: float = 2e-4):
    """(g_state, d_state, e_state): G(z_n, z_c), D (the DCGAN recipe, with BatchNorm) and E.

    Adam with β1 = 0.5 and InfoGAN's learning rates (G and E 1e-3, D 2e-4): with the reference code's 1e-4
    for all three and no BatchNorm in D, our smaller networks drew no recognisable digits in 8 epochs
    (measured: ACC 0.29).
    """
    generator_key, discriminator_key, encoder_key = jax.random.split(key, 3)
    generator = ConditionalDCGANGenerator(config, clusters, rngs=nnx.Rngs(generator_key))
    discriminator = DCGANDiscriminator(config, "batch", rngs=nnx.Rngs(discriminator_key))
    encoder = LatentEncoder(config, clusters, config.latent_dim, rngs=nnx.Rngs(encoder_key))
    return (TrainState.create(generator, adam(generator_learning_rate, 0.5)),
            TrainState.create(discriminator, adam(discriminator_learning_rate, 0.5)),
            TrainState.create(encoder, adam(generator_learning_rate, 0.5)))


def sample_prior(key, count: int, noise_dim: int, clusters: int):
    """z_n ~ N(0, σ²I) (count, noise_dim) and cluster codes c ~ uniform{0..K−1} (count,)."""
    noise_key, cluster_key = jax.random.split(key)
    return (NOISE_STD * jax.random.normal(noise_key, (count, noise_dim)),
            jax.random.randint(cluster_key, (count,), 0, clusters))


def _clusters(e_state: TrainState) -> int:
    return nnx.merge(e_state.graphdef, e_state.params, e_state.batch_stats).categories


def _d_step(d_state, g_state, e_state, images, key):
    noise, codes = sample_prior(key, images.shape[0], latent_dim(g_state), _clusters(e_state))
    fake = lax.stop_gradient(apply_model(g_state, g_state.params, g_state.batch_stats, (noise, codes), True)[0])

    def d_loss(params, stats, real_logits, fake_logits):
        return losses.d_loss(real_logits, fake_logits), stats, {}

    return discriminator_step(d_state, images, fake, d_loss)


def _generator_encoder_step(g_state, e_state, d_state, batch_size, key):
    noise, codes = sample_prior(key, batch_size, latent_dim(g_state), _clusters(e_state))

    def g_loss(params):
        g_params, e_params = params
        fake, g_stats = apply_model(g_state, g_params, g_state.batch_stats, (noise, codes), train=True)
        fake_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, fake, train=True)
        (cluster_logits, noise_estimate), e_stats = apply_model(e_state, e_params, e_state.batch_stats, fake, True)
        noise_error = jnp.mean((noise - noise_estimate) ** 2)  # per dimension, as the reference code's MSE
        cluster_error = information_loss(cluster_logits, codes)
        loss = (losses.g_loss_non_saturating(fake_logits) + NOISE_WEIGHT * noise_error
                + CLUSTER_WEIGHT * cluster_error)
        return loss, ((g_stats, e_stats), {"noise_error": noise_error, "cluster_error": cluster_error})

    (g_state, e_state), metrics = generator_step((g_state, e_state), g_loss)
    return g_state, e_state, metrics


@jit
def train_step(d_state: TrainState, g_state: TrainState, e_state: TrainState, images, key):
    """One D update, then one joint update of G and E (each applied to its own state)."""
    d_key, g_key = jax.random.split(key)
    d_state, d_metrics = _d_step(d_state, g_state, e_state, images, d_key)
    g_state, e_state, g_metrics = _generator_encoder_step(g_state, e_state, d_state, images.shape[0], g_key)
    return d_state, g_state, e_state, {**d_metrics, **g_metrics}


def train(d_state, g_state, e_state, images, key, steps: int, batch_size: int = 64, progress=True,
          callback=None, callback_every: int = 0, checkpointing: Checkpointing | None = None):
    """``steps`` ClusterGAN steps on shuffled batches of ``images`` (no labels); returns the three states and
    the metrics. ``callback(step, d_state, g_state, e_state)`` runs every ``callback_every`` steps."""
    check_images(images, "images")
    data_key, train_key = jax.random.split(key)
    batches = data.batches_for_steps(data_key, images, batch_size, steps)
    states, metrics = run_steps(train_step, {"discriminator": d_state, "generator": g_state, "encoder": e_state},
                                batches, jax.random.split(train_key, steps), description="ClusterGAN",
                                progress=progress, callback=callback, callback_every=callback_every,
                                checkpointing=checkpointing)
    return states["discriminator"], states["generator"], states["encoder"], metrics


@jit
def _encode(e_state: TrainState, images):
    cluster_logits, noise = apply_model(e_state, e_state.params, e_state.batch_stats, images, train=False)[0]
    return jax.nn.softmax(cluster_logits), noise


def encode(e_state: TrainState, images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """E(x) for real images: (cluster probabilities (N, K), noise estimates (N, noise_dim))."""
    return in_batches(partial(_encode, e_state), images, batch_size)


def predict_clusters(e_state: TrainState, images, batch_size: int = 1000) -> np.ndarray:
    """E's most likely cluster for each image: (N,)."""
    return encode(e_state, images, batch_size)[0].argmax(axis=1)
