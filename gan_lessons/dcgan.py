"""A DCGAN trained and judged in one call each: what chapters 04 and 05, the command line and chapter 04's
recipe ladder (tools/dcgan_ladder.py) use.

``train_dcgan`` builds the two players (``models.make_dcgan``) with a recipe's optimiser (DCGAN's Adam for the
non-saturating loss) and trains them with ``training.train`` on shuffled batches of ``images``;
``judge_samples`` asks a classifier what the generator draws (and how far its features are from the test
digits'). The command line (``python -m gan_lessons.train dcgan``) calls these two and saves the result.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from gan_lessons import data
from gan_lessons.classifier import classifier_features, judge
from gan_lessons.losses import NON_SATURATING, Objective
from gan_lessons.metrics import frechet_distance
from gan_lessons.models import DCGANConfig, make_dcgan
from gan_lessons.running import Checkpointing
from gan_lessons.state import with_average
from gan_lessons.training import (
    TrainState,
    recipe_optimizer,
    train,
)


class LiveRun(NamedTuple):
    """A from-scratch run's settings: the model configuration, the batch size and Adam's starting rate."""

    config: str
    batch_size: int
    learning_rate: float


# Chapter 04's run from scratch in a minute of a 2-core CPU: the `cpu` DCGAN and DCGAN's Adam (β1 = 0.5), at
# fifteen times DCGAN's rate (2e-4), falling on a cosine to 5 % of it over the run, so the last steps
# are small ones.
LIVE_RUN = LiveRun("cpu", 128, 3e-3)


def live_run_optimizer(steps: int):
    """Adam (β1 = 0.5) at ``LIVE_RUN.learning_rate``, falling on a cosine to 5 % of it over ``steps`` updates."""
    return recipe_optimizer(Objective(), LIVE_RUN.learning_rate, cosine_steps=steps)


def train_dcgan(config: DCGANConfig | str, images, key, epochs: float = 1.0, batch_size: int = 128,
                generator_learning_rate: float = 2e-4, discriminator_learning_rate: float = 2e-4,
                progress: bool = True, objective: Objective = NON_SATURATING, average_decay: float = 0.0,
                checkpointing: Checkpointing | None = None):
    """Train a DCGAN from scratch; returns (g_state, d_state, metrics, optimiser settings).

    ``config``: a ``models.CONFIGS`` name ("cpu", "paper") or a ``DCGANConfig``. ``epochs`` may be fractional:
    0.5 trains on half an epoch's batches (every batch is one D update; with ``critic_steps`` n, G updates once
    per n of them). ``objective``: the recipe (``losses.Objective``), e.g. ``Objective(r1_weight=1.0)`` for R1
    with γ = 1; both players get its optimiser (``recipe_optimizer``: DCGAN's Adam unless the recipe's paper
    says otherwise), and D spectral norm if it asks for it. ``average_decay`` in (0, 1) also keeps an
    exponential moving average of G's weights in ``g_state.opt_state.average`` (``state.with_average``): draw
    from it with ``g_state.replace(params=g_state.opt_state.average)`` (its BatchNorm statistics are the last
    weights'). ``checkpointing``: save progress periodically and resume from it (``running.Checkpointing``).
    """
    if not 0 <= average_decay < 1:
        raise ValueError(f"average_decay must be in [0, 1) (0: no average; e.g. 0.999), got {average_decay}")
    model_key, data_key, train_key = jax.random.split(key, 3)
    norm = "spectral" if objective.spectral_norm else "batch"
    generator, discriminator = make_dcgan(config, model_key, discriminator_norm=norm)
    optimizers = {
        "generator_optimizer": {"learning_rate": generator_learning_rate},
        "discriminator_optimizer": {"learning_rate": discriminator_learning_rate},
    }
    g_optimizer = recipe_optimizer(objective, generator_learning_rate)
    if average_decay:
        g_optimizer = with_average(g_optimizer, average_decay)
        optimizers["generator_optimizer"]["average_decay"] = average_decay
    g_state = TrainState.create(generator, g_optimizer)
    d_state = TrainState.create(discriminator, recipe_optimizer(objective, discriminator_learning_rate))
    d_updates = int(round(epochs * (len(images) // batch_size)))
    d_updates -= d_updates % objective.critic_steps  # whole rounds of critic steps, each ending in a G update
    batches = data.batches_for_steps(data_key, images, batch_size, d_updates)
    d_state, g_state, metrics = train(d_state, g_state, batches, train_key, objective,
                                      progress=progress, description="DCGAN", checkpointing=checkpointing)
    return g_state, d_state, metrics, optimizers


def judge_samples(classifier: TrainState, samples, test_features=None) -> dict:
    """The classifier's class shares and mean confidence on ``samples``; given the test digits' classifier features
    (``classifier.classifier_features``), also the Fréchet distance of the samples' features to theirs (chapter 05)."""
    shares, confidence = judge(classifier, samples)
    result = {"class_shares": [round(float(s), 4) for s in shares], "mean_confidence": round(confidence, 4),
              "samples": len(samples)}
    if test_features is not None:
        fd = frechet_distance(test_features, classifier_features(classifier, samples))
        result["frechet_distance"] = round(fd, 2)
    return result

