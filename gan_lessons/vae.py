"""A variational autoencoder (Kingma & Welling 2014) built from the DCGAN's parts, for chapter 10.

An encoder q(z|x) = N(μ(x), diag σ²(x)), a decoder p(x|z) = Bernoulli(σ(logits(z))) over the pixels of
binarised MNIST, and the prior p(z) = N(0, I). Training maximises the evidence lower bound

    log p(x) ≥ ELBO(x) = E_q(z|x)[log p(x|z)] − KL(q(z|x) ‖ p(z)),

estimated with one z = μ + σ ⊙ ε, ε ~ N(0, I) (the reparameterisation: the randomness moves into ε,
so the gradient reaches μ and σ). The decoder is the DCGAN generator's network without its tanh, so
the two models in chapter 10 draw images with the same architecture.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from gan_lessons import data
from gan_lessons.checks import check_images
from gan_lessons.compiling import jit
from gan_lessons.models import CONFIGS, DCGANConfig, DCGANGenerator, leaky_relu
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState, adam, apply_gradients, apply_model, latent_dim


class VAEEncoder(nnx.Module):
    """images (B, 28, 28, 1) → (mean (B, latent_dim), log variance (B, latent_dim)).

        Conv s2 + LeakyReLU   (B, 14, 14, c1)
        Conv s2 + LeakyReLU   (B, 7, 7, c2)
        flatten + Dense       (B, 2 · latent_dim)  → split into μ and log σ²
    """

    def __init__(self, latent_dim: int, channels=(32, 64), kernel_size: int = 4, *, rngs: nnx.Rngs):
        sizes = (1, *channels)
        self.convs = nnx.List([
            nnx.Conv(c_in, c_out, (kernel_size, kernel_size), strides=2, rngs=rngs)
            for c_in, c_out in zip(sizes[:-1], sizes[1:])
        ])
        side = 28 // 2 ** len(channels)
        self.output = nnx.Linear(side * side * channels[-1], 2 * latent_dim, rngs=rngs)

    def __call__(self, x):
        h = x
        for conv in self.convs:
            h = leaky_relu(conv(h))  # (B, H/2, W/2, c)
        mean, log_variance = jnp.split(self.output(h.reshape(x.shape[0], -1)), 2, axis=1)  # 2 × (B, latent_dim)
        return mean, log_variance


class VAE(nnx.Module):
    """The encoder and the decoder in one module, trained together as one player."""

    def __init__(self, latent_dim: int = 32, config: DCGANConfig | str = "cpu", *, rngs: nnx.Rngs):
        config = CONFIGS[config] if isinstance(config, str) else config
        self.latent_dim = latent_dim
        self.encoder = VAEEncoder(latent_dim, rngs=rngs)
        # the DCGAN generator's layers on a latent_dim input; no BatchNorm, so a decoded z never
        # depends on the rest of the batch; logits out instead of tanh
        decoder_config = DCGANConfig(f"{config.name}-decoder", latent_dim, config.projection_channels,
                                     config.generator_layers, config.discriminator_channels, config.kernel_size)
        self.decoder = DCGANGenerator(decoder_config, batch_norm=False, tanh_output=False, rngs=rngs)

    def __call__(self, x, epsilon):
        """(images, ε) → (pixel logits (B, 28, 28, 1), μ, log σ²) with z = μ + σ ⊙ ε."""
        mean, log_variance = self.encoder(x)
        return self.decoder(reparameterise(mean, log_variance, epsilon)), mean, log_variance


def reparameterise(mean, log_variance, epsilon):
    """z = μ + σ ⊙ ε with σ = exp(½ log σ²): a sample of N(μ, σ²) whose randomness is all in ε ~ N(0, I),
    so the gradient reaches μ and σ through an ordinary function. All three (B, latent_dim)."""
    return mean + jnp.exp(0.5 * log_variance) * epsilon


def make_vae(key: jax.Array, latent_dim: int = 32, config: str = "cpu", learning_rate: float = 1e-3) -> TrainState:
    """A fresh VAE and its Adam optimiser, as one ``TrainState``."""
    return TrainState.create(VAE(latent_dim, config, rngs=nnx.Rngs(key)), adam(learning_rate))


def binarise(key: jax.Array, images):
    """Dynamic binarisation: each pixel x ∈ {0, 1} ~ Bernoulli(brightness), brightness = (image + 1) / 2."""
    return jax.random.bernoulli(key, (images + 1.0) / 2.0).astype(jnp.float32)


def gaussian_kl(mean, log_variance):
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), per example: (B,)."""
    return 0.5 * jnp.sum(mean ** 2 + jnp.exp(log_variance) - 1.0 - log_variance, axis=1)


def bernoulli_log_likelihood(logits, binary_images):
    """log p(x|z) = Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))], per example, in nats: (B,)."""
    return -jnp.sum(optax.sigmoid_binary_cross_entropy(logits, binary_images), axis=(1, 2, 3))


def elbo_terms(state: TrainState, params, binary_images, key):
    """Per-example (ELBO, reconstruction log-likelihood, KL), each (B,), with one ε per example."""
    epsilon = jax.random.normal(key, (binary_images.shape[0], latent_dim(state)))
    # the model sees the binary image in the [-1, 1] convention the rest of the course uses
    (logits, mean, log_variance), _ = apply_model(state, params, state.batch_stats,
                                                  (2.0 * binary_images - 1.0, epsilon), train=True)
    reconstruction = bernoulli_log_likelihood(logits, binary_images)
    kl = gaussian_kl(mean, log_variance)
    return reconstruction - kl, reconstruction, kl


@jit
def train_step(state: TrainState, images, key):
    """One Adam step on −mean ELBO of a freshly binarised batch; returns (state, metrics)."""
    binary_key, noise_key = jax.random.split(key)
    binary_images = binarise(binary_key, images)

    def loss_fn(params):
        elbo, reconstruction, kl = elbo_terms(state, params, binary_images, noise_key)
        return -jnp.mean(elbo), (jnp.mean(reconstruction), jnp.mean(kl))

    (loss, (reconstruction, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = apply_gradients(state, grads, state.batch_stats)
    return state, {"elbo": -loss, "reconstruction": reconstruction, "kl": kl}


def train(state: TrainState, images, key, steps: int, batch_size: int = 64, progress=True,
          checkpointing: Checkpointing | None = None):
    """``steps`` ELBO steps on shuffled batches; returns (state, metrics as numpy arrays, one entry per step)."""
    check_images(images, "images")
    data_key, train_key = jax.random.split(key)
    batches = data.batches_for_steps(data_key, images, batch_size, steps)
    states, metrics = run_steps(train_step, {"VAE": state}, batches, jax.random.split(train_key, steps),
                                description="VAE", progress=progress, checkpointing=checkpointing)
    return states["VAE"], metrics


@jit
def _elbo_batch(state, binary_images, key):
    return elbo_terms(state, state.params, binary_images, key)


def evaluate_elbo(state: TrainState, binary_images, key, batch_size: int = 1000) -> dict:
    """Mean ELBO, reconstruction log-likelihood and KL over a set of binary images, in nats per image."""
    parts = [_elbo_batch(state, binary_images[start:start + batch_size], batch_key)
             for start, batch_key in zip(range(0, len(binary_images), batch_size),
                                         jax.random.split(key, -(-len(binary_images) // batch_size)))]
    elbo, reconstruction, kl = (float(np.mean(np.concatenate([np.asarray(p[i]) for p in parts]))) for i in range(3))
    return {"elbo": elbo, "reconstruction": reconstruction, "kl": kl}


@partial(jit, static_argnames=("samples",))
def importance_weighted_bound(state: TrainState, binary_images, key, samples: int = 64):
    """log p(x) ≥ log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x),  z_k ~ q(z|x)  (Burda et al. 2016), per example.

    K = 1 is the ELBO; the bound tightens towards log p(x) as K grows.
    """
    model = nnx.merge(state.graphdef, state.params, state.batch_stats)
    mean, log_variance = model.encoder(2.0 * binary_images - 1.0)  # (B, d) each
    epsilon = jax.random.normal(key, (samples, *mean.shape))  # (K, B, d)
    z = reparameterise(mean, log_variance, epsilon)  # (K, B, d): K draws for each image
    logits = jax.vmap(model.decoder)(z)  # (K, B, 28, 28, 1)
    log_weights = (jax.vmap(bernoulli_log_likelihood, in_axes=(0, None))(logits, binary_images)
                   + _log_normal(z, 0.0, 0.0) - _log_normal(z, mean, log_variance))  # (K, B)
    return jax.nn.logsumexp(log_weights, axis=0) - jnp.log(samples)  # (B,)


def _log_normal(value, mean, log_variance):
    """log N(value; mean, diag e^log_variance), summed over the last axis."""
    return -0.5 * jnp.sum(jnp.log(2 * jnp.pi) + log_variance + (value - mean) ** 2 / jnp.exp(log_variance), axis=-1)


@jit
def decode(state: TrainState, z):
    """The decoder's mean image, 2 σ(logits) − 1, in the course's [−1, 1] convention: (B, 28, 28, 1)."""
    model = nnx.merge(state.graphdef, state.params, state.batch_stats)
    return 2.0 * jax.nn.sigmoid(model.decoder(z)) - 1.0


@jit
def encode(state: TrainState, images):
    """q(z|x)'s mean μ(x) for images in [−1, 1]: (B, latent_dim)."""
    model = nnx.merge(state.graphdef, state.params, state.batch_stats)
    return model.encoder(images)[0]


def sample(state: TrainState, key: jax.Array, count: int):
    """New images: z ~ N(0, I), then the decoder's mean image: (count, 28, 28, 1) in [−1, 1]."""
    return decode(state, jax.random.normal(key, (count, latent_dim(state))))
