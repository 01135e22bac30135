"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): learn an encoder E: x → z with the GAN.

D no longer judges images alone but (image, code) pairs: real images with the codes E gives them,
against generated images with the codes that made them:

    L_D     = −E_x[log σ(ℓ(x, E(x)))] − E_z[log(1 − σ(ℓ(G(z), z)))]
    L_(G,E) = −E_z[log σ(ℓ(G(z), z))] − E_x[log(1 − σ(ℓ(x, E(x))))]     (non-saturating, labels swapped)

At the optimum the two joint distributions match, which forces E = G⁻¹: the encoder learns to invert
the generator without ever seeing a pair (x, z). Its activations are features learned without labels.
"""

from __future__ import annotations

from functools import partial

import jax
import numpy as np
from flax import nnx
from jax import lax

from gan_lessons import data, losses
from gan_lessons.checks import check_images
from gan_lessons.compiling import jit
from gan_lessons.infogan import INFOGAN
from gan_lessons.models import DCGANConfig, DCGANGenerator, JointDiscriminator, LatentEncoder
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState, adam, apply_model, in_batches, latent_dim, sample_latent
from gan_lessons.steps import discriminator_step, generator_step, logit_metrics

BIGAN = DCGANConfig("bigan", 50, *(getattr(INFOGAN, field) for field in
                                  ("projection_channels", "generator_layers", "discriminator_channels", "kernel_size")))


def make_bigan(key: jax.Array, config: DCGANConfig = BIGAN, learning_rate: float = 2e-4):
    """(g_state, d_state, e_state): G(z), the joint D(x, z) and E(x) = ẑ, each with Adam(lr, β1 = 0.5)."""
    generator_key, discriminator_key, encoder_key = jax.random.split(key, 3)
    optimizer = adam(learning_rate, 0.5)
    generator = DCGANGenerator(config, rngs=nnx.Rngs(generator_key))
    discriminator = JointDiscriminator(config, config.latent_dim, rngs=nnx.Rngs(discriminator_key))
    encoder = LatentEncoder(config, 0, config.latent_dim, rngs=nnx.Rngs(encoder_key))
    return (TrainState.create(generator, optimizer), TrainState.create(discriminator, optimizer),
            TrainState.create(encoder, optimizer))


def _encoded(e_state, params, images):
    (_, codes), stats = apply_model(e_state, params, e_state.batch_stats, images, train=True)
    return codes, stats  # E(x): (B, latent_dim)


def _d_step(d_state, g_state, e_state, images, key):
    z = sample_latent(key, images.shape[0], latent_dim(g_state))
    fake = lax.stop_gradient(apply_model(g_state, g_state.params, g_state.batch_stats, z, train=True)[0])
    codes = lax.stop_gradient(_encoded(e_state, e_state.params, images)[0])

    def d_loss(params, stats, real_logits, fake_logits):
        return losses.d_loss(real_logits, fake_logits), stats, logit_metrics(real_logits, fake_logits)

    # D judges pairs: real images with E's codes against generated images with the codes that made them
    return discriminator_step(d_state, (images, codes), (fake, z), d_loss)


def _generator_encoder_step(g_state, e_state, d_state, images, key):
    z = sample_latent(key, images.shape[0], latent_dim(g_state))

    def g_loss(params):
        g_params, e_params = params
        fake, g_stats = apply_model(g_state, g_params, g_state.batch_stats, z, train=True)
        codes, e_stats = _encoded(e_state, e_params, images)
        fake_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, (fake, z), train=True)
        real_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, (images, codes), train=True)
        # G wants its pairs called real; E wants its pairs called fake: D's loss with the labels swapped
        loss = losses.g_loss_non_saturating(fake_logits) + losses.g_loss_non_saturating(-real_logits)
        return loss, ((g_stats, e_stats), {})

    (g_state, e_state), metrics = generator_step((g_state, e_state), g_loss)
    return g_state, e_state, metrics


@jit
def train_step(d_state: TrainState, g_state: TrainState, e_state: TrainState, images, key):
    """One D update on (x, E(x)) against (G(z), z), then one joint update of G and E."""
    d_key, g_key = jax.random.split(key)
    d_state, d_metrics = _d_step(d_state, g_state, e_state, images, d_key)
    g_state, e_state, g_metrics = _generator_encoder_step(g_state, e_state, d_state, images, g_key)
    return d_state, g_state, e_state, {**d_metrics, **g_metrics}


def train(d_state, g_state, e_state, images, key, steps: int, batch_size: int = 64, progress=True,
          checkpointing: Checkpointing | None = None):
    """``steps`` BiGAN steps on shuffled batches of ``images``; returns the three states and the metrics."""
    check_images(images, "images")
    data_key, train_key = jax.random.split(key)
    batches = data.batches_for_steps(data_key, images, batch_size, steps)
    states, metrics = run_steps(train_step, {"discriminator": d_state, "generator": g_state, "encoder": e_state},
                                batches, jax.random.split(train_key, steps), description="BiGAN", progress=progress,
                                checkpointing=checkpointing)
    return states["discriminator"], states["generator"], states["encoder"], metrics


@jit
def _encode(e_state: TrainState, images):
    return apply_model(e_state, e_state.params, e_state.batch_stats, images, train=False)[0][1]


def encode(e_state: TrainState, images, batch_size: int = 1000) -> np.ndarray:
    """E(x) = ẑ for each image: (N, latent_dim)."""
    return in_batches(partial(_encode, e_state), images, batch_size)
