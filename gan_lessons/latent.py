"""Walking the generator's latent space: interpolation, directions found by measurement, inversion.

Everything here works on the latent codes z; the generator only turns them into images.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax

from gan_lessons.compiling import jit
from gan_lessons.state import TrainState, adam, apply_model


def linear_interpolation(z_start, z_end, steps: int):
    """z(t) = (1 − t) z₀ + t z₁ for ``steps`` values of t from 0 to 1: (steps, latent_dim)."""
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * z_start + t * z_end


def spherical_interpolation(z_start, z_end, steps: int):
    """slerp (Shoemake 1985; White 2016 for GANs), for ``steps`` values of t from 0 to 1: (steps, latent_dim).

        z(t) = sin((1 − t) Ω) / sin Ω · z₀ + sin(t Ω) / sin Ω · z₁,    cos Ω = z₀·z₁ / (‖z₀‖ ‖z₁‖)

    It moves along the great circle between the two directions, so for ‖z₀‖ = ‖z₁‖ every point keeps
    that norm. That matters for z ~ N(0, I) in d dimensions: almost all of its mass lies near the
    sphere ‖z‖ ≈ √d, while the straight line's midpoint has norm ≈ √(d/2), a region G never saw.
    """
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    cosine = jnp.dot(z_start, z_end) / (jnp.linalg.norm(z_start) * jnp.linalg.norm(z_end))
    omega = jnp.arccos(jnp.clip(cosine, -1.0, 1.0))
    safe_sine = jnp.where(jnp.sin(omega) < 1e-6, 1.0, jnp.sin(omega))
    spherical = (jnp.sin((1.0 - t) * omega) * z_start + jnp.sin(t * omega) * z_end) / safe_sine
    return jnp.where(jnp.sin(omega) < 1e-6, linear_interpolation(z_start, z_end, steps), spherical)  # parallel


def attribute_direction(latents, scores, share: float = 0.1):
    """A latent direction for a measured attribute: mean z of the top ``share`` of scores minus mean z of the bottom.

        v = mean{z : score in the top share} − mean{z : score in the bottom share}

    DCGAN §6.3's "vector arithmetic" (smiling woman − neutral woman + neutral man), with the groups
    chosen by a number measured on the generated images (ink, slant) instead of by hand.
    """
    top, bottom = attribute_groups(scores, share)
    return jnp.mean(latents[top], axis=0) - jnp.mean(latents[bottom], axis=0)


def attribute_groups(scores, share: float = 0.1):
    """The indices of the top ``share`` of scores and of the bottom ``share``: the groups ``attribute_direction``
    compares."""
    order = jnp.argsort(scores)
    count = max(1, int(len(scores) * share))
    return order[-count:], order[:count]


def ink(images):
    """The share of the image that is drawn: mean pixel brightness in [0, 1] of images in [−1, 1]: (B,)."""
    return jnp.mean((images + 1.0) / 2.0, axis=(1, 2, 3))


def slant(images):
    """How far a digit leans right: the covariance of the ink's column with its height, over the row variance.

        slant = Σ w (c − c̄)(r̄ − r) / Σ w (r − r̄)²,  w = ink at (row r, column c)

    0 for an upright stroke, > 0 when the top leans right (rows grow downwards, hence r̄ − r): (B,).
    """
    weights = (images[..., 0] + 1.0) / 2.0  # (B, H, W)
    rows, columns = jnp.meshgrid(jnp.arange(images.shape[1]), jnp.arange(images.shape[2]), indexing="ij")
    total = jnp.sum(weights, axis=(1, 2)) + 1e-6
    row_mean = jnp.sum(weights * rows, axis=(1, 2)) / total
    column_mean = jnp.sum(weights * columns, axis=(1, 2)) / total
    row_offset = rows - row_mean[:, None, None]
    column_offset = columns - column_mean[:, None, None]
    return (jnp.sum(weights * column_offset * -row_offset, axis=(1, 2))
            / (jnp.sum(weights * row_offset ** 2, axis=(1, 2)) + 1e-6))


def _reconstruct(g_state, z, labels):
    inputs = z if labels is None else (z, labels)
    return apply_model(g_state, g_state.params, g_state.batch_stats, inputs, train=False)[0]


def _per_image_error(g_state, z, images, labels):
    return jnp.mean((_reconstruct(g_state, z, labels) - images) ** 2, axis=(1, 2, 3))


def _inversion_loss(z, g_state, images, labels, prior_weight):
    # a sum over images: each image's z gets the gradient of its own error only
    return jnp.sum(_per_image_error(g_state, z, images, labels) + prior_weight * jnp.mean(z ** 2, axis=1))


@partial(jit, static_argnames=("optimizer",))
def _inversion_step(z, optimizer_state, g_state, images, labels, prior_weight, optimizer):
    gradient = jax.grad(_inversion_loss)(z, g_state, images, labels, prior_weight)
    updates, optimizer_state = optimizer.update(gradient, optimizer_state)
    return optax.apply_updates(z, updates), optimizer_state


def invert_generator(g_state: TrainState, images, z_start, steps: int = 300, learning_rate: float = 0.05,
                     prior_weight: float = 1e-3, labels=None):
    """Find z with G(z) ≈ x for each image by gradient descent on z (G fixed, in evaluation mode).

        z* = argmin_z  mean_pixels (G(z) − x)²  +  λ ‖z‖² / d

    The small prior term λ pulls z towards the origin, so that it does not drift to norms far beyond
    those N(0, I) gives, where G was never trained (it does not hold z on the sphere ‖z‖ ≈ √d). Adam on
    z, ``steps`` updates from ``z_start``; a Python loop over a jitted update, because XLA:CPU runs
    convolution gradients slowly inside ``lax.scan``. ``labels``: for a conditional G. Returns (z,
    per-image mean squared error of G(z) against x: (B,)).
    """
    optimizer = adam(learning_rate)  # cached: the jitted step compiles once
    z, optimizer_state = z_start, optimizer.init(z_start)
    for _ in range(steps):
        z, optimizer_state = _inversion_step(z, optimizer_state, g_state, images, labels, prior_weight, optimizer)
    return z, _per_image_error(g_state, z, images, labels)
