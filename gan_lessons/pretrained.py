"""The checkpoints shipped with the course, and loaders that rebuild live states from them.

Each file in ``gan_lessons/checkpoints/`` was written by ``python -m gan_lessons.train``;
its stored config records the exact command, seed and measured results, so
anyone can reproduce it (see README.md, "Shipped checkpoints").
"""

from __future__ import annotations

from pathlib import Path

import jax

from gan_lessons.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from gan_lessons.state import TrainState

CHECKPOINT_FOLDER = Path(__file__).parent / "checkpoints"


def checkpoint_path(name: str) -> Path:
    """``classifier_mnist``, ``classifier_fashion_mnist``, ``dcgan_cpu_mnist``, ... → its file."""
    return CHECKPOINT_FOLDER / f"{name}.ckpt"


def available() -> list[str]:
    return sorted(path.stem for path in CHECKPOINT_FOLDER.glob("*.ckpt"))


def _weights(state: TrainState) -> dict:
    return {"params": state.params, "batch_stats": state.batch_stats}  # no optimiser state: a third the size


def save_players(path: str | Path, players: dict[str, TrainState], config: dict) -> Path:
    """Save the weights (parameters and BatchNorm statistics) of named players."""
    return save_checkpoint(path, {name: _weights(state) for name, state in players.items()}, config)


def load_players(path: str | Path, templates: dict[str, TrainState]) -> tuple[dict[str, TrainState], dict]:
    """Load weights saved by ``save_players`` into fresh states built like ``templates``; return (players, config)."""
    weights, config = load_checkpoint(path, {name: _weights(state) for name, state in templates.items()})
    players = {name: templates[name].replace(**weights[name]) for name in templates}
    return players, config


def _require(name: str) -> Path:
    path = checkpoint_path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"no shipped checkpoint {name!r} at {path}. Shipped: {available()}. "
            f"Make it with `python -m gan_lessons.train` (README.md, 'Shipped checkpoints'), or train in the chapter."
        )
    return path


def load_classifier(dataset: str = "mnist") -> tuple[TrainState, dict]:
    """The shipped evaluation classifier for ``mnist`` or ``fashion_mnist``: (state, config)."""
    from gan_lessons.classifier import make_classifier

    template = {"classifier": make_classifier(jax.random.key(0))}
    players, config = load_players(_require(f"classifier_{dataset}"), template)
    return players["classifier"], config


def load_dcgan(config_name: str = "cpu", dataset: str = "mnist") -> tuple[TrainState, TrainState, dict]:
    """The shipped DCGAN: (generator state, discriminator state, config)."""
    from gan_lessons.models import make_dcgan

    return _load_gan(f"dcgan_{config_name}_{dataset}", make_dcgan(config_name, jax.random.key(0)))


def load_conditional_dcgan(config_name: str = "cpu", dataset: str = "mnist") -> tuple[TrainState, TrainState, dict]:
    """The shipped class-conditional DCGAN (chapter 07): (generator state, discriminator state, config)."""
    from gan_lessons.models import make_conditional_dcgan

    name = f"conditional_dcgan_{config_name}_{dataset}"
    conditioning = read_checkpoint_config(_require(name)).get("conditioning", "input")
    return _load_gan(name, make_conditional_dcgan(config_name, jax.random.key(0), conditioning=conditioning))


def _load_gan(name: str, models) -> tuple[TrainState, TrainState, dict]:
    from gan_lessons.state import dcgan_optimizer

    stored = read_checkpoint_config(_require(name))
    # only the weights are loaded: the template needs the stored rate, not the rest (an average's decay, say)
    rate = lambda player: stored.get(f"{player}_optimizer", {}).get("learning_rate", 2e-4)  # noqa: E731
    optimizer = lambda player: dcgan_optimizer(rate(player))  # noqa: E731
    generator, discriminator = models
    templates = {"generator": TrainState.create(generator, optimizer("generator")),
                 "discriminator": TrainState.create(discriminator, optimizer("discriminator"))}
    players, config = load_players(checkpoint_path(name), templates)
    return players["generator"], players["discriminator"], config


def load_vae(dataset: str = "mnist") -> tuple[TrainState, dict]:
    """The shipped VAE (chapter 10): (state, config)."""
    from gan_lessons.vae import make_vae

    stored = read_checkpoint_config(_require(f"vae_{dataset}"))
    template = {"vae": make_vae(jax.random.key(0), stored["latent_dim"], stored["config"], stored["learning_rate"])}
    players, config = load_players(checkpoint_path(f"vae_{dataset}"), template)
    return players["vae"], config


def load_code_gan(model: str, dataset: str = "mnist", run: str = "") -> tuple[dict[str, TrainState], dict]:
    """The shipped InfoGAN, ClusterGAN or BiGAN (chapters 08 and 09): ({player name: state}, config).

    "infogan_real" is InfoGAN trained with the real-data term on Q (``infogan.real_code_loss``). ``run``: one of
    the other shipped runs of the model, e.g. "validation_seed0" for ``infogan_real_mnist_validation_seed0``.
    InfoGAN has a generator and a discriminator (with its Q head); ClusterGAN adds an encoder; BiGAN ships its
    generator and encoder only (its joint discriminator is most of its weights and only training needs it).
    """
    from gan_lessons import bigan, clustergan, infogan

    makers = {"infogan": infogan.make_infogan, "infogan_real": infogan.make_infogan,
              "clustergan": clustergan.make_clustergan, "bigan": bigan.make_bigan}
    if model not in makers:
        raise ValueError(f"model must be one of {sorted(makers)}, got {model!r}")
    states = dict(zip(("generator", "discriminator", "encoder"), makers[model](jax.random.key(0))))
    if model == "bigan":
        del states["discriminator"]
    return load_players(_require(f"{model}_{dataset}" + (f"_{run}" if run else "")), states)
