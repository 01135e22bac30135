"""Every GAN variant's training step on fixed inputs, saved array by array: to show that a change to the library
leaves the arithmetic bitwise the same.

    python tools/step_snapshot.py save before.npz     # on the old library (a clone at the old commit)
    python tools/step_snapshot.py save after.npz      # on the new one
    python tools/step_snapshot.py compare before.npz after.npz

The steps: the eight recipes of ``training.OBJECTIVES``, the conditional GAN with and without R1, InfoGAN
plain, with its real-data term, sheared and with continuous codes (both networks), ClusterGAN (both recipes) and
BiGAN; each returns its states and metrics, and every array of them is kept (parameters, BatchNorm statistics,
optimiser states, metrics). JAX is bitwise repeatable on one machine, so two saves of the same library compare equal
there; across machines, compare with a tolerance.
"""

from __future__ import annotations

import argparse
import sys

import jax
import numpy as np


def snapshot() -> dict[str, np.ndarray]:
    from gan_lessons import bigan, clustergan, conditional, infogan, training
    from gan_lessons.models import make_conditional_dcgan, make_dcgan

    arrays = {}

    def keep(name, tree):
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            arrays[name + jax.tree_util.keystr(path)] = np.asarray(leaf)

    images = jax.random.uniform(jax.random.key(1), (5, 8, 28, 28, 1), minval=-1, maxval=1)
    labels = jax.random.randint(jax.random.key(2), (8,), 0, 10)
    create = training.TrainState.create
    for name, objective in training.OBJECTIVES.items():
        g, d = make_dcgan("cpu", jax.random.key(0), discriminator_norm="none" if "GP" in name else "batch")
        optimizer = training.recipe_optimizer(objective, 2e-4)
        real = images if objective.critic_steps > 1 else images[0]
        keep(name, training.train_step(create(d, optimizer), create(g, optimizer), real, jax.random.key(3), objective))
    for weight in (0.0, 1.0):
        g, d = make_conditional_dcgan("cpu", jax.random.key(0))
        optimizer = training.dcgan_optimizer()
        keep(f"conditional{weight}", conditional.train_step(create(d, optimizer), create(g, optimizer), images[0],
                                                                labels, jax.random.key(3), r1_weight=weight))
    for real_weight, shear in ((0.0, 0.0), (1.0, 0.0), (1.0, 0.2)):
        g_state, d_state = infogan.make_infogan(jax.random.key(0))
        keep(f"infogan{real_weight},{shear}", infogan.train_step(
            d_state, g_state, images[0], jax.random.key(3), real_weight=real_weight, shear=shear))
    for networks in ("course", "paper"):  # with the paper's two continuous codes
        config, hidden = infogan.NETWORKS[networks]
        g_state, d_state = infogan.make_infogan(jax.random.key(0), config=config, continuous=2, hidden=hidden)
        keep(f"infogan {networks} continuous", infogan.train_step(d_state, g_state, images[0], jax.random.key(3)))
    g_state, d_state, e_state = clustergan.make_clustergan(jax.random.key(0))
    keep("clustergan", clustergan.train_step(d_state, g_state, e_state, images[0], jax.random.key(3)))
    g_state, d_state, e_state = clustergan.make_clustergan(jax.random.key(0), recipe=clustergan.PAPER)
    keep("clustergan paper", clustergan.train_step(d_state, g_state, e_state, images, jax.random.key(3),
                                                   clustergan.PAPER))
    g_state, d_state, e_state = bigan.make_bigan(jax.random.key(0))
    keep("bigan", bigan.train_step(d_state, g_state, e_state, images[0], jax.random.key(3)))
    return arrays


def compare(before: dict, after: dict) -> list[str]:
    """What differs: names in one snapshot only, and arrays not bitwise equal."""
    problems = [f"only in the first: {name}" for name in sorted(set(before) - set(after))]
    problems += [f"only in the second: {name}" for name in sorted(set(after) - set(before))]
    problems += [f"differs: {name}" for name in sorted(set(before) & set(after))
                 if not np.array_equal(before[name], after[name])]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("save").add_argument("path")
    pair = commands.add_parser("compare")
    pair.add_argument("before")
    pair.add_argument("after")
    args = parser.parse_args(argv)
    if args.command == "save":
        arrays = snapshot()
        np.savez(args.path, **arrays)
        print(f"{len(arrays)} arrays saved to {args.path}")
        return 0
    with np.load(args.before) as before, np.load(args.after) as after:
        first, second = dict(before), dict(after)
    problems = compare(first, second)
    print("\n".join(problems[:20]) if problems else f"all {len(first)} arrays bitwise equal")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
