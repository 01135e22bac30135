"""The one GAN update that every variant uses: a discriminator step and a generator step.

A variant (the plain DCGAN and its eight recipes, the conditional GAN, InfoGAN, ClusterGAN, BiGAN) supplies
what D sees and what each player's loss adds; these two functions do the rest, the same way for all:

    D step:  θ_D ← θ_D − η ∇_θ_D L_D(D(real), D(fake))     fakes made beforehand, constants for D
    G step:  θ_G ← θ_G − η ∇_θ_G L_G(θ_G)                   (with an encoder, θ_E moves in the same step)

D sees the real batch and the fake batch in two passes, so BatchNorm never mixes their statistics.

The plain GAN (chapters 03-06: the MLP GAN, the DCGAN and chapter 06's recipes) is the last five functions:
``plain_train_step`` takes a real batch to new parameters of both players, with the recipe's losses and
penalties from ``gan_lessons.losses``. For the DCGAN's cross-entropy recipe:

    L_D = −E_x[log σ(ℓ(x))] − E_z[log(1 − σ(ℓ(G(z))))]        L_G = −E_z[log σ(ℓ(G(z)))]  (non-saturating)
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from gan_lessons.losses import DISCRIMINATOR_LOSSES, GENERATOR_LOSSES, NON_SATURATING, gradient_penalty, r1_penalty
from gan_lessons.state import TrainState, apply_gradients, apply_model, latent_dim, sample_latent


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


def plain_d_step(d_state, g_state, real, key, objective=NON_SATURATING):
    """D's update against fakes G(z) of fresh z: ``recipe_d_step``."""
    z = sample_latent(key, real.shape[0], latent_dim(g_state))
    penalty_key = jax.random.fold_in(key, 1)  # its own stream; z keeps using ``key`` as it always has
    fake, _ = apply_model(g_state, g_state.params, g_state.batch_stats, z, train=True)
    return recipe_d_step(d_state, real, fake, penalty_key, objective)


def recipe_d_step(d_state, real, fake, penalty_key, objective=NON_SATURATING):
    """D's update: L_D of the recipe on D(real) and D(fake), plus γ·R1 or λ·GP if it has one; WGAN clips.

    ``fake``: images G made (gradients stop here: D's loss must not reach G's parameters); ``penalty_key``
    draws WGAN-GP's points between real and fake. Every variant with an unconditional D uses it.
    """
    fake = lax.stop_gradient(fake)

    def d_loss(params, stats, real_logits, fake_logits):
        loss = DISCRIMINATOR_LOSSES[objective.discriminator_loss](real_logits, fake_logits)
        # the weights are static Python floats: a penalty is traced only when asked for
        if objective.r1_weight:
            loss = loss + objective.r1_weight * r1_penalty(d_state, params, d_state.batch_stats, real)
        if objective.gradient_penalty_weight:
            loss = loss + objective.gradient_penalty_weight * gradient_penalty(
                d_state, params, d_state.batch_stats, real, fake, penalty_key)
        scores = {"real_score": jnp.mean(real_logits), "fake_score": jnp.mean(fake_logits)}  # ℓ, as critics report
        return loss, stats, {**logit_metrics(real_logits, fake_logits), **scores}

    d_state, metrics = discriminator_step(d_state, real, fake, d_loss)
    if objective.clip_value:
        clip = objective.clip_value
        d_state = d_state.replace(params=jax.tree.map(lambda p: jnp.clip(p, -clip, clip), d_state.params))
    return d_state, metrics


def plain_g_step(g_state, d_state, batch_size, key, objective=NON_SATURATING):
    """G's update against the current D: the recipe's L_G on D(G(z)) for ``batch_size`` fresh z."""
    z = sample_latent(key, batch_size, latent_dim(g_state))

    def g_loss(params):
        fake, stats = apply_model(g_state, params[0], g_state.batch_stats, z, train=True)
        # D in training mode as in its own step; its updated statistics are thrown away
        fake_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, fake, train=True)
        return GENERATOR_LOSSES[objective.generator_loss](fake_logits), ((stats,), {})

    (g_state,), metrics = generator_step((g_state,), g_loss)
    return g_state, metrics


def critic_updates(d_step: Callable, d_state, real, key, critic_steps: int):
    """``critic_steps`` D updates, ``d_step(d_state, real_batch, key)`` each; returns (d_state, the last metrics).

    With more than one, ``real`` is (critic_steps, B, ...): a fresh real batch and key for each update.
    """
    if critic_steps == 1:
        return d_step(d_state, real, key)
    for critic_key, critic_real in zip(jax.random.split(key, critic_steps), real):
        d_state, metrics = d_step(d_state, critic_real, critic_key)
    return d_state, metrics


def plain_train_step(d_state, g_state, real, key, objective=NON_SATURATING):
    """One round, from a real batch to new parameters of both players: ``objective.critic_steps`` D updates,
    then one G update against the updated D. Returns (d_state, g_state, metrics)."""
    d_key, g_key = jax.random.split(key)
    d_state, d_metrics = critic_updates(lambda d, batch, k: plain_d_step(d, g_state, batch, k, objective),
                                        d_state, real, d_key, objective.critic_steps)
    batch_size = real.shape[1] if objective.critic_steps > 1 else real.shape[0]
    g_state, g_metrics = plain_g_step(g_state, d_state, batch_size, g_key, objective)
    return d_state, g_state, {**d_metrics, **g_metrics}
