"""GAN losses, computed from the discriminator's logits.

The discriminator outputs a logit ℓ and D = σ(ℓ). Every log-probability is
written with softplus, which never overflows:

    log D       = log σ(ℓ)     = −softplus(−ℓ)
    log(1 − D)  = log σ(−ℓ)    = −softplus(ℓ)

Writing ``jnp.log(jax.nn.sigmoid(ℓ))`` instead gives −inf (and NaN gradients)
as soon as |ℓ| ≳ 17 in float32.
"""

from __future__ import annotations

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


GENERATOR_LOSSES = {
    "saturating": g_loss_saturating,
    "non_saturating": g_loss_non_saturating,
}
