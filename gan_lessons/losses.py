"""GAN losses and penalties, and the recipes that combine them.

The losses are computed from the discriminator's raw output ℓ (a logit, or a critic's score).

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

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.nn import softplus

from gan_lessons.state import TrainState, apply_model


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


def r1_penalty(d_state: TrainState, params, batch_stats, real, labels=None):
    """R1 (Mescheder et al. 2018): (1/2) E_x~data ‖∇_x D_logit(x)‖², the slope of D's logit on real data.

    Penalising it keeps D from building cliffs around the data that fling fakes from mode to mode.
    ``labels``: for a conditional D, the slope of D(x, y) in x with the labels held fixed.
    """
    slopes = _input_gradients(d_state, params, batch_stats, real, labels)
    return 0.5 * jnp.mean(jnp.sum(slopes ** 2, axis=1))


def gradient_penalty(d_state: TrainState, params, batch_stats, real, fake, key):
    """WGAN-GP (Gulrajani et al. 2017): E_x̂[(‖∇_x̂ ℓ(x̂)‖₂ − 1)²], x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1].

    A soft version of "the critic is 1-Lipschitz", checked on random points between real and fake pairs.
    """
    epsilon = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))
    between = epsilon * real + (1.0 - epsilon) * fake
    slopes = _input_gradients(d_state, params, batch_stats, between)
    norms = jnp.sqrt(jnp.sum(slopes ** 2, axis=1) + 1e-12)  # + tiny: the gradient of √ at 0 is inf
    return jnp.mean((norms - 1.0) ** 2)


def _input_gradients(d_state, params, batch_stats, inputs, labels=None):
    """∇_x ℓ(x) (or ∇_x ℓ(x, y) for a conditional D) for each example, flattened: (B, features)."""
    def summed_logits(x):
        return jnp.sum(apply_model(d_state, params, batch_stats, x if labels is None else (x, labels), train=True)[0])

    slopes = jax.grad(summed_logits)(inputs)  # (B, ...): each example's logit depends only on itself
    return slopes.reshape(inputs.shape[0], -1)


@dataclass(frozen=True)
class Objective:
    """What each player minimises, and how D is kept in check: one GAN "recipe".

    ``discriminator_loss`` / ``generator_loss`` name entries of ``DISCRIMINATOR_LOSSES`` /
    ``GENERATOR_LOSSES``. ``r1_weight`` γ adds γ·R1 to D's loss (``r1_penalty``);
    ``gradient_penalty_weight`` λ adds WGAN-GP's λ·GP (``gradient_penalty``); ``clip_value`` c clips
    every D parameter to [−c, c] after each update (the original WGAN); ``critic_steps`` n makes n D
    updates, each on its own real batch, per G update; ``spectral_norm`` asks for D's layers under spectral
    normalisation (the model's choice, ``discriminator_norm="spectral"``: the step itself does nothing with it).
    Hashable, so jitted steps take it as static.
    """

    discriminator_loss: str = "cross_entropy"
    generator_loss: str = "non_saturating"
    r1_weight: float = 0.0
    gradient_penalty_weight: float = 0.0
    clip_value: float = 0.0
    critic_steps: int = 1
    spectral_norm: bool = False

    def __post_init__(self):
        if self.discriminator_loss not in DISCRIMINATOR_LOSSES:
            raise ValueError(f"discriminator_loss must be one of {sorted(DISCRIMINATOR_LOSSES)}, "
                             f"got {self.discriminator_loss!r}")
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {sorted(GENERATOR_LOSSES)}, "
                             f"got {self.generator_loss!r}")
        if self.critic_steps < 1:
            raise ValueError(f"critic_steps must be at least 1, got {self.critic_steps}")


NON_SATURATING = Objective()

# The eight recipes chapter 06 compares. Spectral normalisation changes D's layers, not the losses: it is the
# non-saturating objective with ``make_dcgan(..., discriminator_norm="spectral")``.
OBJECTIVES = {
    "minimax (saturating)": Objective(generator_loss="saturating"),
    "non-saturating": NON_SATURATING,
    "least squares": Objective("least_squares", "least_squares"),
    "hinge": Objective("hinge", "linear"),
    "WGAN, weight clipping": Objective("wasserstein", "linear", clip_value=0.01, critic_steps=5),
    "WGAN-GP": Objective("wasserstein", "linear", gradient_penalty_weight=10.0, critic_steps=5),
    "spectral norm": Objective(spectral_norm=True),
    "R1": Objective(r1_weight=1.0),
}
