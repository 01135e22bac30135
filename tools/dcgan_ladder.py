"""Chapter 04's ladder: the `cpu` DCGAN's shipped recipe with one change at a time, each judged the same way.

    python tools/dcgan_ladder.py RUNG SEED [--epochs E] [--record notebooks/results/04_ladder.json]

Every rung is ``dcgan.train_dcgan`` on batches of 64 (the shipped recipe's) from the seed's key, for 8 epochs
(the shipped recipe's) or the rung's own, with the rung's objective, rates and sizes, and is judged on 10,000
samples from one fixed z: the shipped classifier's mean confidence and class shares, and the Fréchet distance of
its features to the 10,000 test digits'. G's weights are also averaged over the run (an exponential moving
average, decay 0.999, kept beside Adam's state: ``train_dcgan``'s ``average_decay``), and the average is judged
the same way, with the BatchNorm statistics G kept during the run (those of its last weights): one more rung,
free with every run. The result is printed as a JSON line and, with ``--record``, added to that file's runs. The
rungs are chosen by mean confidence on G's samples, which reads no test digit; the FD is reported, not chosen on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import NamedTuple

import jax

from gan_lessons import classifier, data, pretrained
from gan_lessons.dcgan import judge_samples, train_dcgan
from gan_lessons.files import atomic_file
from gan_lessons.losses import Objective
from gan_lessons.models import CPU, DCGANConfig
from gan_lessons.training import generate, latent_dim, sample_latent

SHIPPED_OBJECTIVE, SHIPPED_EPOCHS = Objective(r1_weight=1.0), 8.0  # non-saturating loss and R1 with γ = 1


class Rung(NamedTuple):
    """One setting of the ladder: what changes, the objective, G's and D's Adam rates, the networks, the epochs."""

    description: str
    objective: Objective
    generator_rate: float
    discriminator_rate: float
    config: DCGANConfig
    epochs: float = SHIPPED_EPOCHS


RUNGS = {
    "shipped": Rung("the shipped recipe: non-saturating loss, R1 γ = 1, rates 2e-4", SHIPPED_OBJECTIVE,
                    2e-4, 2e-4, CPU),
    "wide_d": Rung("D with the paper's channels (64, 128) instead of (16, 32)", SHIPPED_OBJECTIVE, 2e-4, 2e-4,
                   dataclasses.replace(CPU, discriminator_channels=(64, 128))),
    "hinge_sn": Rung("hinge loss and spectral norm in D, no R1 (SNGAN's recipe)",
                     Objective("hinge", "linear", spectral_norm=True), 2e-4, 2e-4, CPU),
    "ttur": Rung("D's rate 4e-4 and G's 1e-4 (the two time-scale update rule, TTUR)", SHIPPED_OBJECTIVE,
                 1e-4, 4e-4, CPU),
    "longer": Rung("the shipped recipe for 24 epochs instead of 8", SHIPPED_OBJECTIVE, 2e-4, 2e-4, CPU,
                   epochs=3 * SHIPPED_EPOCHS),
}
AVERAGE_DECAY = 0.999
BATCH_SIZE, JUDGE_SAMPLES, JUDGE_SEED = 64, 10_000, 1234


def train_rung(rung: str, seed: int, epochs: float, images):
    """(G's state, seconds, G updates) for one rung and seed; G's optimiser state holds the averaged weights.
    The seconds are the whole ``train_dcgan`` call: building the players and batches, compiling, training."""
    setting = RUNGS[rung]
    start = time.perf_counter()
    g_state, _, history, _ = train_dcgan(setting.config, images, jax.random.key(seed), epochs, BATCH_SIZE,
                                         setting.generator_rate, setting.discriminator_rate, progress=False,
                                         objective=setting.objective, average_decay=AVERAGE_DECAY)
    return g_state, time.perf_counter() - start, len(history["d_real"])


def score_samples(g_state, judge, test_features, z) -> dict:
    """Mean confidence, smallest and largest class share, and FD to the test digits, of G's samples of ``z``."""
    scores = judge_samples(judge, generate(g_state, z), test_features)  # chapter 04's two numbers and the FD
    return {"confidence": scores["mean_confidence"], "smallest": min(scores["class_shares"]),
            "largest": max(scores["class_shares"]), "fd": scores["frechet_distance"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rung", choices=RUNGS)
    parser.add_argument("seed", type=int)
    parser.add_argument("--epochs", type=float, default=None, help="instead of the rung's own (Rung.epochs)")
    parser.add_argument("--record", type=Path, help="a results file whose 'runs' list gets this run")
    args = parser.parse_args(argv)
    args.epochs = RUNGS[args.rung].epochs if args.epochs is None else args.epochs
    images, _ = data.load_mnist("train")
    g_state, seconds, steps = train_rung(args.rung, args.seed, args.epochs, images)
    judge, _ = pretrained.load_classifier("mnist")
    test_features = classifier.classifier_features(judge, data.load_mnist("test")[0])
    z = sample_latent(jax.random.key(JUDGE_SEED), JUDGE_SAMPLES, latent_dim(g_state))
    record = {"rung": args.rung, "seed": args.seed, "epochs": args.epochs, "steps": steps, "seconds": round(seconds),
              "live": score_samples(g_state, judge, test_features, z),
              "average": score_samples(g_state.replace(params=g_state.opt_state.average), judge, test_features, z)}
    print(json.dumps(record))
    if args.record:
        results = json.loads(args.record.read_text())
        results["runs"].append(record)
        results.setdefault("rungs", {})[args.rung] = RUNGS[args.rung].description  # what the chapter prints
        with atomic_file(args.record, "w") as file:  # the record of every earlier run is never half-written
            file.write(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
