"""InfoGAN (Chen et al. 2016): a GAN whose generator must leave a readable code in every image.

G takes noise z and a categorical code c ∈ {0..K−1}. A head Q on the discriminator guesses c back
from G(z, c). Both players are rewarded when Q guesses right, which maximises a lower bound on the
mutual information between the code and the image:

    I(c; G(z, c)) ≥ L_I = E_c,z[log Q(c | G(z, c))] + H(c)          (Chen et al., eq. 4–5)

    L_D = −E_x[log σ(ℓ(x))] − E_z,c[log(1 − σ(ℓ(G(z, c))))] − λ·L_I
    L_G = −E_z,c[log σ(ℓ(G(z, c)))] − λ·L_I                          (non-saturating)

H(c) = log K is a constant, so −L_I is the cross-entropy of Q's guess plus a constant. No label is ever
used: if the cheapest way to keep ten codes apart is to draw ten digits, Q becomes a classifier of
real digits too — an unsupervised one, which chapter 09 scores.

The paper's MNIST model also has two continuous codes c′ ~ U(−1, 1), which Q estimates as the mean of a
Gaussian of unit variance (``continuous_information_loss``); ``continuous`` turns them on.

Nothing in L_I mentions real images, so Q may read the code from cues real digits lack. ``real_weight`` > 0
adds, for D and Q only, CatGAN's real-data term (Springenberg 2016) with IMSAT's self-augmentation (Hu et al.
2017): see ``real_code_loss``. Still no label is used.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from gan_lessons import data, losses
from gan_lessons.checks import check_images
from gan_lessons.compiling import jit
from gan_lessons.models import (
    CPU,
    ConditionalDCGANGenerator,
    DCGANConfig,
    HiddenLayerConditionalGenerator,
    InfoGANDiscriminator,
)
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState, adam, apply_model, in_batches, latent_dim, sample_latent
from gan_lessons.steps import discriminator_step, generator_step

# The CPU DCGAN with a discriminator twice as wide (its features are what Q reads) and 8 noise dimensions
# instead of the paper's 62: measured on MNIST (seed 0, 3,000 steps), the code's clustering accuracy was
# 0.39 with 62, 0.49 with 16 and 0.52 with 8. Less noise leaves more of each image for the code to explain.
# Chapter 09 measures it again on the validation split, seeds 0-2, with the paper's continuous codes: on these
# networks every run with 62 below every run with 8 and the same codes; on the paper's, 8 ahead by the median only.
INFOGAN = DCGANConfig("infogan", 8, CPU.projection_channels, CPU.generator_layers, (32, 64), CPU.kernel_size)
# Chen et al.'s MNIST networks (Appendix C.1; github.com/openai/InfoGAN, regularized_gan.py): G: FC 1024 → FC 7·7·128
# → ConvT 64 → ConvT 1; D: Conv 64 → Conv 128 → FC 1024, then D's logit, and Q's FC 128 → codes. Not as theirs unless
# asked: Q's FC 128 has no BatchNorm (make_infogan's q_norm), the noise is N(0, I) (noise="uniform": theirs, 62
# dimensions of U(−1, 1)), LeakyReLU's slope is 0.2 (leaky_slope=0.01: their code's leaky_rectify). Not as theirs:
# images are in [−1, 1] (theirs [0, 1], with a sigmoid), and the train command's default schedule is 8 epochs in
# batches of 64 (their run_mnist_exp.py: 5,000 updates in batches of 128).
PAPER_NETWORKS = DCGANConfig("infogan-paper", 62, 128, ((64, 2), (1, 2)), (64, 128), 4)
NETWORKS = {"course": (INFOGAN, 0), "paper": (PAPER_NETWORKS, 1024)}  # (sizes, make_infogan's hidden)


def make_infogan(key: jax.Array, categories: int = 10, config: DCGANConfig = INFOGAN,
                 generator_learning_rate: float = 1e-3, discriminator_learning_rate: float = 2e-4,
                 discriminator_norm: str = "batch", continuous: int = 0, hidden: int = 0, q_norm: bool = False):
    """(g_state, d_state): G(z, c) and D with its Q head, with InfoGAN's Adam settings (β1 = 0.5).

    G's z holds ``config.latent_dim`` noise dimensions, then ``continuous`` continuous codes (``sample_codes``).
    ``hidden`` > 0: a Dense layer of that many units first in G and last in D's body (the paper's 1024).
    ``q_norm``: a BatchNorm in Q's hidden layer (the authors' code); D's LeakyReLU slope is ``config.leaky_slope``.
    """
    generator_key, discriminator_key = jax.random.split(key)
    widened = dataclasses.replace(config, latent_dim=config.latent_dim + continuous)
    if hidden:
        generator = HiddenLayerConditionalGenerator(widened, categories, hidden, rngs=nnx.Rngs(generator_key))
    else:
        generator = ConditionalDCGANGenerator(widened, categories, rngs=nnx.Rngs(generator_key))
    discriminator = InfoGANDiscriminator(config, categories, discriminator_norm, continuous, hidden, q_norm,
                                         rngs=nnx.Rngs(discriminator_key))
    return (TrainState.create(generator, adam(generator_learning_rate, 0.5)),
            TrainState.create(discriminator, adam(discriminator_learning_rate, 0.5)))


def information_loss(code_logits, codes):
    """−L_I + H(c) = −E[log Q(c | x)]: the cross-entropy of Q's guess of the code that made x.

    For K equally likely codes, L_I = log K − (this), so L_I = 0 when Q guesses uniformly (loss log K)
    and L_I = H(c) = log K, the most there is, when Q is always sure and right (loss 0).
    """
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(code_logits), codes[:, None], axis=1))


def continuous_information_loss(estimates, codes):
    """−E[log Q(c′ | x)] + const for continuous codes c′, Q(c′ | x) = N(ĉ′(x), I) as in Chen et al.'s code:

        ½ E[‖c′ − ĉ′(x)‖²]        (the Gaussian's log-density, less its constant ½ log 2π per dimension)
    """
    return 0.5 * jnp.mean(jnp.sum(jnp.square(codes - estimates), axis=1))


def real_code_loss(code_logits, altered_code_logits):
    """Q on a batch of real images x and on copies T(x), each turned, scaled and moved a little; no labels:

        L_real = E_x[H(Q(c | x))] − H(E_x[Q(c | x)]) − E_x[Σ_c Q(c | x) log Q(c | T(x))]

    The first term asks Q to be sure of each real image, the second to use every code equally often over a
    batch (CatGAN's terms for real data), the third to give the altered digit T(x) the code it gave x
    (IMSAT's self-augmentation; Q(c | x) is held fixed there, a target). For K codes: Q uniform everywhere
    gives log K − log K + log K = log K; Q sure, consistent and each code used equally gives 0 − log K + 0.
    """
    log_probabilities = jax.nn.log_softmax(code_logits)  # (B, K)
    probabilities = jnp.exp(log_probabilities)
    conditional_entropy = -jnp.mean(jnp.sum(probabilities * log_probabilities, axis=1))
    marginal = jnp.mean(probabilities, axis=0)  # (K,): how often each code is used over the batch
    marginal_entropy = -jnp.sum(marginal * jnp.log(marginal + 1e-8))
    consistency = -jnp.mean(jnp.sum(lax.stop_gradient(probabilities) * jax.nn.log_softmax(altered_code_logits),
                                    axis=1))
    return conditional_entropy - marginal_entropy + consistency


NOISES = ("normal", "uniform")  # G's noise: N(0, I), or U(−1, 1) as in Chen et al.'s MNIST model


def _check_noise(noise: str) -> None:
    if noise not in NOISES:
        raise ValueError(f"noise must be {' or '.join(map(repr, NOISES))}, got {noise!r}")


def sample_codes(key, count: int, noise_dim: int, categories: int, continuous: int = 0, noise: str = "normal"):
    """G's inputs: z (count, noise_dim + continuous) and c ~ uniform{0..K−1} (count,).

    z = [noise, c′ ~ U(−1, 1)]: its last ``continuous`` columns are the continuous codes Q estimates. The noise is
    N(0, I), or with ``noise="uniform"`` U(−1, 1) as in Chen et al.'s MNIST model (variance 1/3, not 1).
    """
    _check_noise(noise)
    noise_key, code_key = jax.random.split(key)
    if noise == "uniform":
        z = jax.random.uniform(noise_key, (count, noise_dim), minval=-1.0, maxval=1.0)
    else:
        z = sample_latent(noise_key, count, noise_dim)
    if continuous:  # their own key, folded in, so that runs without them draw exactly as before
        codes = jax.random.uniform(jax.random.fold_in(key, 2), (count, continuous), minval=-1.0, maxval=1.0)
        z = jnp.concatenate([z, codes], axis=1)
    return z, jax.random.randint(code_key, (count,), 0, categories)


def _code_sizes(g_state: TrainState, d_state: TrainState) -> tuple[int, int, int]:
    """(noise dimensions, categories, continuous codes) of these players: G's z is noise, then continuous codes."""
    q = nnx.merge(d_state.graphdef, d_state.params, d_state.batch_stats)
    return latent_dim(g_state) - q.continuous, q.categories, q.continuous


def _information(code_logits, estimates, codes, z, noise_dim: int):
    """−L_I + H(c) of Q's outputs on G(z, c); with continuous codes in z, their ½‖c′ − ĉ′‖² besides."""
    loss = information_loss(code_logits, codes)
    continuous = z.shape[1] - noise_dim
    if continuous:  # a Python branch on a shape: plain InfoGAN traces none of this
        loss = loss + continuous_information_loss(estimates[:, :continuous], z[:, noise_dim:])
    return loss


def _d_step(d_state, g_state, images, key, information_weight, real_weight=0.0, shear=0.0, noise="normal"):
    noise_dim, categories, continuous = _code_sizes(g_state, d_state)
    z, codes = sample_codes(key, images.shape[0], noise_dim, categories, continuous, noise)
    fake, _ = apply_model(g_state, g_state.params, g_state.batch_stats, (z, codes), train=True)
    fake = lax.stop_gradient(fake)  # D's loss must not reach G

    def d_loss(params, stats, real_outputs, fake_outputs):
        (real_logits, real_code_logits, _), (fake_logits, code_logits, estimates) = real_outputs, fake_outputs
        information = _information(code_logits, estimates, codes, z, noise_dim)
        loss = losses.d_loss(real_logits, fake_logits) + information_weight * information
        real_term = jnp.zeros(())
        if real_weight:  # a Python branch on a static setting: plain InfoGAN traces none of this
            # T: ±15°, ×(1 ± 0.1), ±2 px, and a slant of up to ±shear
            altered = data.random_affine(jax.random.fold_in(key, 1), images, max_shear=shear)
            (_, altered_code_logits, _), stats = apply_model(d_state, params, stats, altered, train=True)
            real_term = real_code_loss(real_code_logits, altered_code_logits)
            loss = loss + real_weight * real_term
        return loss, stats, {"information_loss": information, "real_code_loss": real_term}

    return discriminator_step(d_state, images, fake, d_loss)


def _g_step(g_state, d_state, batch_size, key, information_weight, noise="normal"):
    noise_dim, categories, continuous = _code_sizes(g_state, d_state)
    z, codes = sample_codes(key, batch_size, noise_dim, categories, continuous, noise)

    def g_loss(params):
        fake, stats = apply_model(g_state, params[0], g_state.batch_stats, (z, codes), train=True)
        (fake_logits, code_logits, estimates), _ = apply_model(d_state, d_state.params, d_state.batch_stats, fake,
                                                               train=True)
        loss = (losses.g_loss_non_saturating(fake_logits)
                + information_weight * _information(code_logits, estimates, codes, z, noise_dim))
        return loss, ((stats,), {})

    (g_state,), metrics = generator_step((g_state,), g_loss)
    return g_state, metrics


@partial(jit, static_argnames=("information_weight", "real_weight", "shear", "noise"))
def train_step(d_state: TrainState, g_state: TrainState, images, key, information_weight: float = 1.0,
               real_weight: float = 0.0, shear: float = 0.0, noise: str = "normal"):
    """One D-and-Q update on a real batch and as many fakes, then one G update; (d_state, g_state, metrics).

    ``real_weight`` > 0 adds ``real_weight`` · ``real_code_loss`` to D's loss, T being ``data.random_affine``
    (with a slant of up to ±``shear`` besides, if ``shear`` > 0). ``noise``: G's noise, as in ``sample_codes``."""
    d_key, g_key = jax.random.split(key)
    d_state, d_metrics = _d_step(d_state, g_state, images, d_key, information_weight, real_weight, shear, noise)
    g_state, g_metrics = _g_step(g_state, d_state, images.shape[0], g_key, information_weight, noise)
    return d_state, g_state, {**d_metrics, **g_metrics}


def train(d_state, g_state, images, key, steps: int, batch_size: int = 64, information_weight: float = 1.0,
          real_weight: float = 0.0, shear: float = 0.0, progress=True, callback=None, callback_every: int = 0,
          checkpointing: Checkpointing | None = None, noise: str = "normal"):
    """``steps`` InfoGAN steps on shuffled batches of ``images`` (labels are never seen); ``real_weight``,
    ``shear`` and ``noise`` as in ``train_step``.

    ``callback(step, d_state, g_state)`` runs every ``callback_every`` steps (to watch the clustering
    accuracy climb, say). Returns (d_state, g_state, metrics as numpy arrays). Guarded against
    divergence, with optional checkpoints to resume from (``running.run_steps``).
    """
    check_images(images, "images")
    if shear and not real_weight:  # checked before any batch is built
        raise ValueError(f"shear={shear} only changes the real-data term's altered copies T(x): pass real_weight > 0 "
                         "too, or leave shear at 0")
    _check_noise(noise)
    data_key, train_key = jax.random.split(key)
    batches = data.batches_for_steps(data_key, images, batch_size, steps)
    static = {"information_weight": information_weight, "real_weight": real_weight, "shear": shear, "noise": noise}
    states, metrics = run_steps(train_step, {"discriminator": d_state, "generator": g_state}, batches,
                                jax.random.split(train_key, steps), static=static,
                                description="InfoGAN", progress=progress, callback=callback,
                                callback_every=callback_every, checkpointing=checkpointing)
    return states["discriminator"], states["generator"], metrics


@jit
def _code_probabilities(d_state: TrainState, images):
    return jax.nn.softmax(apply_model(d_state, d_state.params, d_state.batch_stats, images, train=False)[0][1])


def code_probabilities(d_state: TrainState, images, batch_size: int = 1000) -> np.ndarray:
    """Q(c | x) for real images: (N, categories). Its argmax is InfoGAN's cluster for each image."""
    return in_batches(partial(_code_probabilities, d_state), images, batch_size)


@partial(jit, static_argnames=("shear",))
def _real_code_loss_on(d_state: TrainState, images, key, shear=0.0):
    (_, code_logits, _), _ = apply_model(d_state, d_state.params, d_state.batch_stats, images, train=False)
    altered = data.random_affine(key, images, max_shear=shear)
    (_, altered_code_logits, _), _ = apply_model(d_state, d_state.params, d_state.batch_stats, altered, train=False)
    return real_code_loss(code_logits, altered_code_logits)


def real_code_score(d_state: TrainState, images, key, batch_size: int = 1000, shear: float = 0.0) -> float:
    """The trained Q's ``real_code_loss`` on ``images``, averaged over batches of ``batch_size``: lower is better.
    T as in training: pass the ``shear`` the run was trained with, so that runs of one command compare.

    It needs no labels, so it can choose among runs of the same command (seeds, say) without looking at the
    test labels; its floor is −log K, for Q sure, consistent and using every code equally in every batch.
    """
    check_images(images, "images")
    if len(images) < batch_size:
        raise ValueError(f"real_code_score needs at least one whole batch: {len(images)} images for batch_size="
                         f"{batch_size}; pass more images or a smaller batch_size")
    starts = range(0, len(images) - batch_size + 1, batch_size)  # whole batches: H(E[Q]) depends on the size
    keys = jax.random.split(key, len(starts))
    return float(np.mean([_real_code_loss_on(d_state, images[start:start + batch_size], batch_key, shear)
                          for start, batch_key in zip(starts, keys)]))


def predict_clusters(d_state: TrainState, images, batch_size: int = 1000) -> np.ndarray:
    """The code Q finds most likely for each image: (N,) integers in 0..K−1."""
    return code_probabilities(d_state, images, batch_size).argmax(axis=1)
