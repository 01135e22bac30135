"""A DCGAN trained and judged in one call each: what chapters 04 and 05 and the command line use.

``train_dcgan`` builds the two players (``models.make_dcgan``) with DCGAN's Adam and trains them with
``training.train`` on shuffled batches of ``images``; ``judge_generator`` asks the shipped classifier what the
generator draws. The command line (``python -m gan_lessons.train dcgan``) calls these two and saves the result.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from gan_lessons import data, pretrained
from gan_lessons.classifier import judge
from gan_lessons.losses import NON_SATURATING
from gan_lessons.models import DCGANConfig, make_dcgan
from gan_lessons.running import Checkpointing
from gan_lessons.state import with_average
from gan_lessons.training import (
    Objective,
    TrainState,
    dcgan_optimizer,
    generate,
    latent_dim,
    recipe_optimizer,
    sample_latent,
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
    0.5 trains on half an epoch's batches. ``objective``: the recipe (``losses.Objective``), e.g.
    ``Objective(r1_weight=1.0)`` for R1 with γ = 1; with ``spectral_norm`` D's layers are spectrally normalised.
    ``average_decay`` > 0 also keeps an exponential moving average of G's weights, in
    ``g_state.opt_state.average`` (``state.with_average``). ``checkpointing``: save progress periodically and
    resume from it (``running.Checkpointing``).
    """
    model_key, data_key, train_key = jax.random.split(key, 3)
    norm = "spectral" if objective.spectral_norm else "batch"
    generator, discriminator = make_dcgan(config, model_key, discriminator_norm=norm)
    optimizers = {
        "generator_optimizer": {"learning_rate": generator_learning_rate},
        "discriminator_optimizer": {"learning_rate": discriminator_learning_rate},
    }
    g_optimizer = dcgan_optimizer(**optimizers["generator_optimizer"])
    if average_decay:
        g_optimizer = with_average(g_optimizer, average_decay)
    g_state = TrainState.create(generator, g_optimizer)
    d_state = TrainState.create(discriminator, dcgan_optimizer(**optimizers["discriminator_optimizer"]))
    batches = data.batches_for_steps(data_key, images, batch_size, int(round(epochs * (len(images) // batch_size))))
    d_state, g_state, metrics = train(d_state, g_state, batches, train_key, objective,
                                      progress=progress, description="DCGAN", checkpointing=checkpointing)
    return g_state, d_state, metrics, optimizers


def judge_generator(g_state, dataset: str, key, count: int = 10_000) -> dict:
    """Class histogram and mean confidence of the shipped classifier on ``count`` samples."""
    classifier, _ = pretrained.load_classifier(dataset)
    shares, confidence = judge(classifier, generate(g_state, sample_latent(key, count, latent_dim(g_state))))
    return {"class_shares": [round(float(s), 4) for s in shares], "mean_confidence": round(confidence, 4),
            "samples": count}
