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

    python tools/dcgan_ladder.py --judge-checkpoint FILE [--record notebooks/results/04_ladder.json]

judges one of chapter 09's label-free InfoGANs (a checkpoint made by ``python -m gan_lessons.train infogan``, on
the course's networks) the same way, each of its ten codes drawn equally often, for chapter 04's section 9; the
record keeps these runs apart from the rungs, under "label_free".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gan_lessons import classifier, conditional, data, infogan, pretrained
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


def score_samples(samples, judge, test_features) -> dict:
    """Mean confidence, smallest and largest class share, and FD to the test digits, of G's ``samples``."""
    scores = judge_samples(judge, samples, test_features)  # chapter 04's two numbers and the FD
    return {"confidence": scores["mean_confidence"], "smallest": min(scores["class_shares"]),
            "largest": max(scores["class_shares"]), "fd": scores["frechet_distance"]}


def judge_latent(g_state):
    """The fixed z every run is judged on: ``JUDGE_SAMPLES`` draws from ``key(JUDGE_SEED)``, G's width."""
    return sample_latent(jax.random.key(JUDGE_SEED), JUDGE_SAMPLES, latent_dim(g_state))


def judge_code_gan(path: Path, judge, test_features) -> dict:
    """An InfoGAN checkpoint judged like a rung, G(z, c) for the fixed z and the codes 0-9 in turn; how it was made.
    A checkpoint of other networks or codes stops with ``load_players``'s error, which names the mismatch; one
    trained on other data or with other noise stops too, since the MNIST judge and N(0, I) z would misjudge it."""
    templates = dict(zip(("generator", "discriminator"), infogan.make_infogan(jax.random.key(0))))
    players, config = pretrained.load_players(path, templates)
    if config.get("dataset") != "mnist" or config.get("noise", "normal") != "normal":  # the judge and z would not fit
        raise SystemExit(f"{path}: trained on {config.get('dataset')} with {config.get('noise', 'normal')} noise; "
                         "the ladder judges MNIST runs with N(0, I) noise (the train command's defaults)")
    g_state = players["generator"]
    codes = jnp.arange(JUDGE_SAMPLES) % 10  # make_infogan's ten codes, each equally often
    samples = conditional.generate(g_state, judge_latent(g_state), codes)
    model = "infogan_real" if config.get("real_weight") else "infogan"
    return {"model": model, "seed": config["seed"], "epochs": config["epochs"], "command": config["command"],
            "jax": config["jax"], "seconds": config["training_seconds"],
            "scores": score_samples(samples, judge, test_features)}


def judged_rung(args, judge, test_features) -> dict:
    """Train one rung and seed and judge G's last weights ("live") and their average."""
    g_state, seconds, steps = train_rung(args.rung, args.seed, args.epochs, data.load_mnist("train")[0])
    z = judge_latent(g_state)
    averaged = g_state.replace(params=g_state.opt_state.average)
    return {"rung": args.rung, "seed": args.seed, "epochs": args.epochs, "steps": steps, "seconds": round(seconds),
            "live": score_samples(generate(g_state, z), judge, test_features),
            "average": score_samples(generate(averaged, z), judge, test_features)}


def add_to_record(path: Path, record: dict, rung: str | None) -> None:
    """A rung's run goes to the record's "runs" (and its description to "rungs"), an InfoGAN's to "label_free"."""
    results = json.loads(path.read_text())
    if rung:
        results["runs"].append(record)
        results.setdefault("rungs", {})[rung] = RUNGS[rung].description  # what the chapter prints
    else:
        results.setdefault("label_free", []).append(record)
    with atomic_file(path, "w") as file:  # the record of every earlier run is never half-written
        file.write(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rung", nargs="?", choices=RUNGS)
    parser.add_argument("seed", nargs="?", type=int)
    parser.add_argument("--epochs", type=float, default=None, help="instead of the rung's own (Rung.epochs)")
    parser.add_argument("--judge-checkpoint", type=Path, help="judge this InfoGAN checkpoint instead of a rung")
    parser.add_argument("--record", type=Path, help="a results file that gets this run")
    args = parser.parse_args(argv)
    if args.judge_checkpoint and (args.rung, args.seed, args.epochs) != (None, None, None):
        parser.error("--judge-checkpoint judges a trained checkpoint: give no rung, seed or --epochs with it")
    if not args.judge_checkpoint and (args.rung is None or args.seed is None):
        parser.error("give a rung and a seed, or --judge-checkpoint FILE")
    judge, _ = pretrained.load_classifier("mnist")
    test_features = classifier.classifier_features(judge, data.load_mnist("test")[0])
    if args.judge_checkpoint:
        record = judge_code_gan(args.judge_checkpoint, judge, test_features)
    else:
        args.epochs = RUNGS[args.rung].epochs if args.epochs is None else args.epochs
        record = judged_rung(args, judge, test_features)
    print(json.dumps(record))
    if args.record:
        add_to_record(args.record, record, None if args.judge_checkpoint else args.rung)


if __name__ == "__main__":
    main()
