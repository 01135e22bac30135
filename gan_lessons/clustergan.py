"""ClusterGAN (Mukherjee et al. 2019): a GAN with a clustered latent space and an encoder back into it.

The latent code is a one-hot cluster code plus Gaussian noise, z = (z_n, z_c) with
z_n ~ N(0, σ²I) and z_c one of K one-hot vectors, so the prior is K blobs (σ: see ``Recipe``).
An encoder E maps images back to (ẑ_n, ẑ_c logits), trained with G to invert it:

    L_D     = −E_x[log σ(ℓ(x))] − E_z[log(1 − σ(ℓ(G(z))))]
    L_(G,E) = −E_z[log σ(ℓ(G(z)))] + β_n E_z[‖z_n − ẑ_n(G(z))‖² / d] + β_c E_z[CE(z_c, ẑ_c(G(z)))]

with β_n = β_c = 10 as in the paper, d the noise dimension, and the course's non-saturating loss for the
adversarial part (``COURSE``). The paper's own recipe (``PAPER``) swaps in a WGAN-GP critic (L_D above becomes
the critic's, and G's adversarial term −E_z[ℓ(G(z))]), σ = 0.1 and its optimiser settings. The noise error is
averaged over the d dimensions, as the reference code's mean squared error does: summed, it starts near
β_n·d·σ² = 170 and drowns the adversarial term (measured: G drew no digits).

Unlike InfoGAN's Q, E is a network of its own and also recovers the noise, so
G cannot hide the cluster in a few pixels the noise also moves. A real image's cluster is E's guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gan_lessons import data
from gan_lessons.checks import check_images
from gan_lessons.compiling import jit
from gan_lessons.infogan import INFOGAN, information_loss
from gan_lessons.losses import GENERATOR_LOSSES, NON_SATURATING, Objective
from gan_lessons.models import ConditionalDCGANGenerator, DCGANConfig, DCGANDiscriminator, LatentEncoder
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState, adam, apply_model, in_batches, latent_dim
from gan_lessons.steps import critic_updates, generator_step, recipe_d_step


@dataclass(frozen=True)
class Recipe:
    """How ClusterGAN trains: the adversarial part of its losses and the spread of its prior.

    ``objective``: D's and G's adversarial losses, penalty and critic steps (``losses.Objective``);
    ``noise_std``: σ of z_n; ``discriminator_norm``: "batch", or "none" for a critic with a gradient penalty
    (the penalty is per image, and BatchNorm makes each output depend on the whole batch); Adam's learning
    rates and β1, β2 for G and E (``generator_learning_rate``) and for D. Hashable: jitted steps take it as static.
    """

    objective: Objective
    noise_std: float
    discriminator_norm: str
    generator_learning_rate: float
    discriminator_learning_rate: float
    betas: tuple[float, float]


# The course's recipe. The paper's σ = 0.1 with this non-saturating loss made our G draw one image per cluster
# code (measured: ACC 0.18, every row of samples identical; why is untested: perhaps the BatchNorm right after
# G's first layer rescales the tiny noise part away). A PyTorch reimplementation in wide use (zhampel/clusterGAN)
# draws z_n with 0.75, which we follow. InfoGAN's learning rates (G and E 1e-3, D 2e-4): with the reference
# code's 1e-4 for all three and no BatchNorm in D, our smaller networks drew no recognisable digits in 8 epochs
# (ACC 0.29).
COURSE = Recipe(NON_SATURATING, noise_std=0.75, discriminator_norm="batch", generator_learning_rate=1e-3,
                discriminator_learning_rate=2e-4, betas=(0.5, 0.999))
# The paper's (Mukherjee et al. 2019, and its authors' code, Image_ClusterGAN.py): a WGAN-GP critic with λ = 10,
# 5 critic steps per G step, no BatchNorm in D, σ = 0.1, Adam with rate 1e-4, β1 = 0.5, β2 = 0.9 for all three.
PAPER = Recipe(Objective("wasserstein", "linear", gradient_penalty_weight=10.0, critic_steps=5), noise_std=0.10,
               discriminator_norm="none", generator_learning_rate=1e-4, discriminator_learning_rate=1e-4,
               betas=(0.5, 0.9))
RECIPES = {"course": COURSE, "paper": PAPER}
NOISE_WEIGHT = 10.0  # β_n
CLUSTER_WEIGHT = 10.0  # β_c
CLUSTERGAN = DCGANConfig("clustergan", 30, *(getattr(INFOGAN, field) for field in
                                            ("projection_channels", "generator_layers", "discriminator_channels",
                                             "kernel_size")))


def make_clustergan(key: jax.Array, clusters: int = 10, config: DCGANConfig = CLUSTERGAN, recipe: Recipe = COURSE):
    """(g_state, d_state, e_state): G(z_n, z_c), D and E, each with the recipe's Adam."""
    generator_key, discriminator_key, encoder_key = jax.random.split(key, 3)
    generator = ConditionalDCGANGenerator(config, clusters, rngs=nnx.Rngs(generator_key))
    discriminator = DCGANDiscriminator(config, recipe.discriminator_norm, rngs=nnx.Rngs(discriminator_key))
    encoder = LatentEncoder(config, clusters, config.latent_dim, rngs=nnx.Rngs(encoder_key))
    generator_optimizer = adam(recipe.generator_learning_rate, *recipe.betas)
    return (TrainState.create(generator, generator_optimizer),
            TrainState.create(discriminator, adam(recipe.discriminator_learning_rate, *recipe.betas)),
            TrainState.create(encoder, generator_optimizer))


def sample_prior(key, count: int, noise_dim: int, clusters: int, noise_std: float = COURSE.noise_std):
    """z_n ~ N(0, σ²I) (count, noise_dim) and cluster codes c ~ uniform{0..K−1} (count,)."""
    noise_key, cluster_key = jax.random.split(key)
    return (noise_std * jax.random.normal(noise_key, (count, noise_dim)),
            jax.random.randint(cluster_key, (count,), 0, clusters))


def _clusters(e_state: TrainState) -> int:
    return nnx.merge(e_state.graphdef, e_state.params, e_state.batch_stats).categories


def _d_step(d_state, g_state, e_state, images, key, recipe: Recipe):
    prior = sample_prior(key, images.shape[0], latent_dim(g_state), _clusters(e_state), recipe.noise_std)
    fake = apply_model(g_state, g_state.params, g_state.batch_stats, prior, True)[0]
    return recipe_d_step(d_state, images, fake, jax.random.fold_in(key, 1), recipe.objective)


def _generator_encoder_step(g_state, e_state, d_state, batch_size, key, recipe: Recipe):
    noise, codes = sample_prior(key, batch_size, latent_dim(g_state), _clusters(e_state), recipe.noise_std)
    adversarial_loss = GENERATOR_LOSSES[recipe.objective.generator_loss]

    def g_loss(params):
        g_params, e_params = params
        fake, g_stats = apply_model(g_state, g_params, g_state.batch_stats, (noise, codes), train=True)
        fake_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, fake, train=True)
        (cluster_logits, noise_estimate), e_stats = apply_model(e_state, e_params, e_state.batch_stats, fake, True)
        noise_error = jnp.mean((noise - noise_estimate) ** 2)  # per dimension, as the reference code's MSE
        cluster_error = information_loss(cluster_logits, codes)
        loss = adversarial_loss(fake_logits) + NOISE_WEIGHT * noise_error + CLUSTER_WEIGHT * cluster_error
        return loss, ((g_stats, e_stats), {"noise_error": noise_error, "cluster_error": cluster_error})

    (g_state, e_state), metrics = generator_step((g_state, e_state), g_loss)
    return g_state, e_state, metrics


@partial(jit, static_argnames=("recipe",))
def train_step(d_state: TrainState, g_state: TrainState, e_state: TrainState, images, key, recipe: Recipe = COURSE):
    """The recipe's critic steps of D (``images``: (critic_steps, B, ...) with more than one), then one joint
    update of G and E (each applied to its own state)."""
    d_key, g_key = jax.random.split(key)
    d_state, d_metrics = critic_updates(lambda d, batch, k: _d_step(d, g_state, e_state, batch, k, recipe),
                                        d_state, images, d_key, recipe.objective.critic_steps)
    batch_size = images.shape[-4]  # images: ([critic_steps,] B, 28, 28, 1)
    g_state, e_state, g_metrics = _generator_encoder_step(g_state, e_state, d_state, batch_size, g_key, recipe)
    return d_state, g_state, e_state, {**d_metrics, **g_metrics}


def train(d_state, g_state, e_state, images, key, steps: int, batch_size: int = 64, recipe: Recipe = COURSE,
          progress=True, callback=None, callback_every: int = 0, checkpointing: Checkpointing | None = None):
    """``steps`` ClusterGAN steps (G updates) on shuffled batches of ``images`` (no labels), each with the
    recipe's critic steps; returns the three states and the metrics. ``callback(step, d_state, g_state,
    e_state)`` runs every ``callback_every`` steps."""
    check_images(images, "images")
    data_key, train_key = jax.random.split(key)
    critic_steps = recipe.objective.critic_steps
    batches = data.batches_for_steps(data_key, images, batch_size, steps * critic_steps)
    if critic_steps > 1:
        batches = batches.reshape(steps, critic_steps, *batches.shape[1:])  # a fresh real batch per D update
    states, metrics = run_steps(train_step, {"discriminator": d_state, "generator": g_state, "encoder": e_state},
                                batches, jax.random.split(train_key, steps), static={"recipe": recipe},
                                description="ClusterGAN", progress=progress, callback=callback,
                                callback_every=callback_every, checkpointing=checkpointing)
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
