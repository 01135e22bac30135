"""The one GAN update that every variant uses: a discriminator step and a generator step.

A variant (the plain DCGAN and its eight recipes, the conditional GAN, InfoGAN, ClusterGAN, BiGAN) supplies
what D sees and what each player's loss adds; these two functions do the rest, the same way for all:

    D step:  θ_D ← θ_D − η ∇_θ_D L_D(D(real), D(fake))     fakes made beforehand, constants for D
    G step:  θ_G ← θ_G − η ∇_θ_G L_G(θ_G)                   (with an encoder, θ_E moves in the same step)

D sees the real batch and the fake batch in two passes, so BatchNorm never mixes their statistics.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gan_lessons.state import TrainState, apply_gradients, apply_model


def discriminator_step(d_state: TrainState, real, fake, d_loss: Callable):
    """One D update; returns (d_state, metrics with "d_loss").

    ``real`` and ``fake``: what D is given for each (an array, or a tuple of arguments such as
    ``(images, labels)``); the fakes must already be ``lax.stop_gradient``-ed. ``d_loss(params, stats,
    real_outputs, fake_outputs)`` returns (loss, stats, metrics): the variant's loss from D's outputs, with
    any term that runs D again (a penalty, InfoGAN's real-data term) passing its BatchNorm statistics on.
    """
    def loss_fn(params):
        real_outputs, stats = apply_model(d_state, params, d_state.batch_stats, real, train=True)
        fake_outputs, stats = apply_model(d_state, params, stats, fake, train=True)
        loss, stats, metrics = d_loss(params, stats, real_outputs, fake_outputs)
        return loss, (stats, metrics)

    (loss, (stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_state.params)
    return apply_gradients(d_state, grads, stats), {"d_loss": loss, **metrics}


def generator_step(states: tuple[TrainState, ...], g_loss: Callable):
    """One update of G (and of an encoder trained with it); returns (the states, metrics with "g_loss").

    ``g_loss(params)``, with ``params`` a tuple of the states' parameters, returns (loss, (stats, metrics)):
    the loss, each state's new BatchNorm statistics, and what to report. D's parameters are constants in it.
    """
    (loss, (stats, metrics)), grads = jax.value_and_grad(g_loss, has_aux=True)(tuple(s.params for s in states))
    return tuple(map(apply_gradients, states, grads, stats)), {"g_loss": loss, **metrics}


def logit_metrics(real_logits, fake_logits) -> dict:
    """D(x) and D(G(z)) averaged over the batch: a healthy D keeps the first well above the second."""
    return {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
