"""GAN losses, computed from the discriminator's raw output ℓ (a logit, or a critic's score).

The discriminator outputs a logit ℓ and D = σ(ℓ). Every log-probability is
written with softplus, which never overflows:

    log D       = log σ(ℓ)     = −softplus(−ℓ)
    log(1 − D)  = log σ(−ℓ)    = −softplus(ℓ)

The naive formulas break in float32, at very different logits:
``jnp.log(1 - jax.nn.sigmoid(ℓ))`` is −inf (with a NaN gradient) once σ(ℓ) rounds
to 1, from ℓ ≈ 16.6 up, while ``jnp.log(jax.nn.sigmoid(ℓ))`` stays finite until σ(ℓ)
underflows to 0, below ℓ ≈ −87 on XLA's CPU backend (chapter 01 prints both).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.nn import softplus


def log_d(logits):
    """log D(x) = −softplus(−ℓ)."""
    return -softplus(-logits)


def log_one_minus_d(logits):
    """log(1 − D(x)) = −softplus(ℓ)."""
    return -softplus(logits)


def value_function(real_logits, fake_logits):
    """V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]  (Goodfellow et al. 2014, eq. 1).

    D maximises V; G minimises it.
    """
    return jnp.mean(log_d(real_logits)) + jnp.mean(log_one_minus_d(fake_logits))


def d_loss(real_logits, fake_logits):
    """L_D = −E_x[log D(x)] − E_z[log(1 − D(G(z)))] = −V(D, G).

    Binary cross-entropy with label 1 for real and 0 for fake.
    """
    return -value_function(real_logits, fake_logits)


def g_loss_saturating(fake_logits):
    """L_G = E_z[log(1 − D(G(z)))]: the minimax generator loss.

    Its gradient with respect to the logit is −σ(ℓ) = −D(G(z)), which vanishes
    when D confidently rejects the fakes (D(G(z)) → 0), as it does early on.
    """
    return jnp.mean(log_one_minus_d(fake_logits))


def g_loss_non_saturating(fake_logits):
    """L_G = −E_z[log D(G(z))]: the non-saturating generator loss.

    Same fixed point as the minimax loss; its gradient with respect to the logit
    is −(1 − D(G(z))), which is largest exactly when D rejects the fakes.
    """
    return -jnp.mean(log_d(fake_logits))


def d_loss_least_squares(real_logits, fake_logits):
    """L_D = ½ E_x[(ℓ(x) − 1)²] + ½ E_z[ℓ(G(z))²]  (LSGAN, Mao et al. 2017, with a = 0, b = c = 1).

    ℓ is used as it is, without a sigmoid: fakes far on the right side of the
    boundary are still pulled towards it, so the gradients do not vanish.
    """
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits ** 2)


def g_loss_least_squares(fake_logits):
    """L_G = ½ E_z[(ℓ(G(z)) − 1)²]: G wants its samples scored like real ones."""
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


def d_loss_hinge(real_logits, fake_logits):
    """L_D = E_x[max(0, 1 − ℓ(x))] + E_z[max(0, 1 + ℓ(G(z)))]  (Lim & Ye 2017; Miyato et al. 2018).

    Samples already beyond the margin (ℓ ≥ 1 for real, ℓ ≤ −1 for fake) give D no gradient.
    """
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def d_loss_wasserstein(real_logits, fake_logits):
    """L_D = E_z[ℓ(G(z))] − E_x[ℓ(x)]  (WGAN, Arjovsky et al. 2017).

    With ℓ 1-Lipschitz, −min L_D is the Wasserstein-1 distance between the data and G's
    distribution; the Lipschitz bound comes from clipping the weights or a gradient penalty.
    """
    return jnp.mean(fake_logits) - jnp.mean(real_logits)


def g_loss_linear(fake_logits):
    """L_G = −E_z[ℓ(G(z))]: the generator of WGAN and of the hinge loss raises the critic's score."""
    return -jnp.mean(fake_logits)


DISCRIMINATOR_LOSSES = {
    "cross_entropy": d_loss,
    "least_squares": d_loss_least_squares,
    "hinge": d_loss_hinge,
    "wasserstein": d_loss_wasserstein,
}

GENERATOR_LOSSES = {
    "saturating": g_loss_saturating,
    "non_saturating": g_loss_non_saturating,
    "least_squares": g_loss_least_squares,
    "linear": g_loss_linear,
}
