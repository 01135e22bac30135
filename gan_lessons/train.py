"""Train the course's shipped models from the command line.

    python -m gan_lessons.train classifier --dataset mnist
    python -m gan_lessons.train classifier --dataset fashion_mnist
    python -m gan_lessons.train dcgan --config cpu --dataset mnist
    python -m gan_lessons.train conditional_dcgan --config cpu --dataset mnist
    python -m gan_lessons.train vae --dataset mnist
    python -m gan_lessons.train infogan --dataset mnist --seed 0
    python -m gan_lessons.train infogan --real-weight 1 --shear 0.3 --epochs 8 --seed 2   # infogan_real_mnist
    python -m gan_lessons.train clustergan --dataset mnist
    python -m gan_lessons.train bigan --dataset mnist

Each command writes ``gan_lessons/checkpoints/<name>.ckpt`` (or ``--out``) with
its command line, seed, wall time and measured results in the stored config.
Data is found as everywhere in the course: ``--data-dir``, ``GAN_LESSONS_DATA``,
the cache folder, or a verified download.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import jax

from gan_lessons import data, pretrained
from gan_lessons.classifier import classifier_features
from gan_lessons.dcgan import judge_samples, train_dcgan
from gan_lessons.infogan import INFOGAN, NOISES
from gan_lessons.losses import Objective
from gan_lessons.running import Checkpointing
from gan_lessons.state import TrainState, dcgan_optimizer
from gan_lessons.training import generate, latent_dim, sample_latent

LOADERS = {"mnist": data.load_mnist, "fashion_mnist": data.load_fashion_mnist}


def _classifier_command(args) -> dict:
    from gan_lessons.classifier import accuracy, make_classifier, train_classifier

    images, labels = LOADERS[args.dataset]("train", args.data_dir)
    test_images, test_labels = LOADERS[args.dataset]("test", args.data_dir)
    model_key, train_key = jax.random.split(jax.random.key(args.seed))
    steps = args.epochs * (len(images) // 128)
    state, _ = train_classifier(make_classifier(model_key, decay_steps=steps), images, labels, train_key,
                                epochs=args.epochs, batch_size=128, augment=not args.no_augment)
    result = {"test_accuracy": round(accuracy(state, test_images, test_labels), 4)}
    pretrained.save_players(_output(args),
                            {"classifier": state}, {**vars(args), **result, **_provenance(args)})
    return result


def _dcgan_command(args) -> dict:
    images, _ = LOADERS[args.dataset]("train", args.data_dir)
    train_key, judge_key = jax.random.split(jax.random.key(args.seed))
    g_state, d_state, metrics, optimizers = train_dcgan(
        args.config, images, train_key, args.epochs, args.batch_size,
        args.generator_learning_rate, args.discriminator_learning_rate,
        objective=Objective(r1_weight=args.r1_weight), average_decay=args.average_decay,
        checkpointing=_checkpointing(args))
    result = {"final_d_real": round(float(metrics["d_real"][-100:].mean()), 3),
              "final_d_fake": round(float(metrics["d_fake"][-100:].mean()), 3)}
    live = g_state
    if args.average_decay:  # the averaged weights are the generator we ship and judge
        g_state = g_state.replace(params=g_state.opt_state.average)
    out = _output(args)
    players = {"generator": g_state, "discriminator": d_state}
    pretrained.save_players(out, players, {**vars(args), **optimizers, **result, **_provenance(args)})
    if args.judge_samples and pretrained.checkpoint_path(f"classifier_{args.dataset}").is_file():  # saved first
        judge, _ = pretrained.load_classifier(args.dataset)
        test_features = classifier_features(judge, LOADERS[args.dataset]("test", args.data_dir)[0])
        z = sample_latent(judge_key, args.judge_samples, latent_dim(g_state))
        result.update(judge_samples(judge, generate(g_state, z), test_features))
        if args.average_decay:  # what the average bought: the last weights judged on the same z
            result["live"] = judge_samples(judge, generate(live, z), test_features)
        pretrained.save_players(out, players, {**vars(args), **optimizers, **result, **_provenance(args)})
    return result


def _conditional_dcgan_command(args) -> dict:
    from gan_lessons import conditional
    from gan_lessons.classifier import accuracy
    from gan_lessons.models import make_conditional_dcgan

    images, labels = LOADERS[args.dataset]("train", args.data_dir)
    model_key, train_key, judge_key = jax.random.split(jax.random.key(args.seed), 3)
    generator, discriminator = make_conditional_dcgan(args.config, model_key, conditioning=args.conditioning)
    optimizers = {"generator_optimizer": {"learning_rate": args.generator_learning_rate},
                  "discriminator_optimizer": {"learning_rate": args.discriminator_learning_rate}}
    g_state = TrainState.create(generator, dcgan_optimizer(**optimizers["generator_optimizer"]))
    d_state = TrainState.create(discriminator, dcgan_optimizer(**optimizers["discriminator_optimizer"]))
    steps = int(round(args.epochs * (len(images) // args.batch_size)))
    start = time.perf_counter()
    d_state, g_state, metrics = conditional.train(d_state, g_state, images, labels, train_key, steps,
                                                  args.batch_size, args.r1_weight, checkpointing=_checkpointing(args))
    result = {"final_d_real": round(float(metrics["d_real"][-100:].mean()), 3),
              "final_d_fake": round(float(metrics["d_fake"][-100:].mean()), 3),
              "training_seconds": round(time.perf_counter() - start)}
    out = _output(args)
    players = {"generator": g_state, "discriminator": d_state}
    pretrained.save_players(out, players, {**vars(args), **optimizers, **result, **_provenance(args)})
    if pretrained.checkpoint_path(f"classifier_{args.dataset}").is_file():  # saved first: judging cannot lose it
        classifier_state, _ = pretrained.load_classifier(args.dataset)
        samples, requested = conditional.generate_classes(g_state, judge_key, 1_000)
        result["requested_class_accuracy"] = round(accuracy(classifier_state, samples, requested), 4)
        pretrained.save_players(out, players, {**vars(args), **optimizers, **result, **_provenance(args)})
    return result


def _vae_command(args) -> dict:
    from gan_lessons import vae

    images, _ = LOADERS[args.dataset]("train", args.data_dir)
    test_images, _ = LOADERS[args.dataset]("test", args.data_dir)
    model_key, train_key, binary_key, elbo_key = jax.random.split(jax.random.key(args.seed), 4)
    state = vae.make_vae(model_key, args.latent_dim, args.config, args.learning_rate)
    steps = int(round(args.epochs * (len(images) // args.batch_size)))
    start = time.perf_counter()
    state, _ = vae.train(state, images, train_key, steps, args.batch_size, checkpointing=_checkpointing(args))
    result = {"training_seconds": round(time.perf_counter() - start)}
    test_binary = vae.binarise(binary_key, test_images)  # one fixed binarisation of the test set
    result.update({f"test_{name}": round(value, 2) for name, value in vae.evaluate_elbo(state, test_binary,
                                                                                       elbo_key).items()})
    pretrained.save_players(_output(args), {"vae": state},
                            {**vars(args), **result, **_provenance(args)})
    return result


def _clustering_scores(predicted_clusters, labels, split: str) -> dict:
    from gan_lessons.clustering import score_clustering

    scores = score_clustering(predicted_clusters, labels.astype("int64"))
    return {f"{split}_accuracy": round(scores.accuracy, 4), f"{split}_nmi": round(scores.nmi, 4),
            f"{split}_ari": round(scores.ari, 4)}


def _code_gan_command(args) -> dict:
    """InfoGAN, ClusterGAN or BiGAN: trained without labels; labels only score the result.

    ``--validation N``: train on the other training images and score on N held out (``data.validation_split``),
    not on the test set, which is then left for the one final score of the setting chosen on validation.
    """
    from gan_lessons import bigan, clustergan, infogan

    images, labels = LOADERS[args.dataset]("train", args.data_dir)
    split = "validation" if args.validation else "test"
    if args.validation:  # scored on the held-out training images; the test set is not even loaded
        (images, _), (score_images, score_labels) = data.validation_split(images, labels, args.validation)
    else:
        score_images, score_labels = LOADERS[args.dataset]("test", args.data_dir)
    model_key, train_key = jax.random.split(jax.random.key(args.seed))
    steps = int(round(args.epochs * (len(images) // args.batch_size)))
    start = time.perf_counter()
    if args.model == "infogan":
        networks, hidden = infogan.NETWORKS[args.networks]
        slope = networks.leaky_slope if args.leaky_slope is None else args.leaky_slope  # None: the networks' own
        config = dataclasses.replace(networks, latent_dim=args.noise_dim, leaky_slope=slope)
        g_state, d_state = infogan.make_infogan(model_key, config=config, continuous=args.continuous_codes,
                                                hidden=hidden, q_norm=args.q_batchnorm)
        d_state, g_state, _ = infogan.train(d_state, g_state, images, train_key, steps, args.batch_size,
                                            real_weight=args.real_weight, shear=args.shear,
                                            checkpointing=_checkpointing(args), noise=args.noise)
        players = {"generator": g_state, "discriminator": d_state}
    elif args.model == "clustergan":  # an epoch: every image once through D, so a G step per critic_steps batches
        recipe = clustergan.RECIPES[args.recipe]
        g_state, d_state, e_state = clustergan.make_clustergan(model_key, recipe=recipe)
        d_state, g_state, e_state, _ = clustergan.train(d_state, g_state, e_state, images, train_key,
                                                        max(steps // recipe.objective.critic_steps, 1),
                                                        args.batch_size, recipe, checkpointing=_checkpointing(args))
        players = {"generator": g_state, "discriminator": d_state, "encoder": e_state}
    else:
        g_state, d_state, e_state = bigan.make_bigan(model_key)
        d_state, g_state, e_state, _ = bigan.train(d_state, g_state, e_state, images, train_key, steps,
                                                   args.batch_size, checkpointing=_checkpointing(args))
        players = {"generator": g_state, "encoder": e_state}  # BiGAN's joint D: 80 % of the weights, no chapter uses it
    result = {"training_seconds": round(time.perf_counter() - start)}
    if args.model == "infogan":
        result.update(_clustering_scores(infogan.predict_clusters(d_state, score_images), score_labels, split))
        if args.real_weight:  # a label-free score of the run, to choose among seeds (chapter 09)
            score = infogan.real_code_score(d_state, images, jax.random.key(1), shear=args.shear)
            result["train_real_code_loss"] = round(score, 4)
    elif args.model == "clustergan":
        result.update(_clustering_scores(clustergan.predict_clusters(e_state, score_images), score_labels, split))
    pretrained.save_players(_output(args), players,
                            {**vars(args), **result, **_provenance(args)})
    return result


def _output(args) -> Path:
    names = {"classifier": "classifier_{dataset}", "dcgan": "dcgan_{config}_{dataset}",
             "conditional_dcgan": "conditional_dcgan_{config}_{dataset}"}
    if args.model == "infogan":  # with the real-data term, other latent codes or networks: never the shipped model
        names["infogan"] = "infogan_real" if args.real_weight else "infogan"
        if (args.networks, args.noise_dim, args.continuous_codes) != ("course", INFOGAN.latent_dim, 0):
            names["infogan"] += "_{networks}_z{noise_dim}_c{continuous_codes}"
        names["infogan"] += "_uniform" if args.noise == "uniform" else ""
        names["infogan"] += "_qbn" if args.q_batchnorm else ""
        names["infogan"] += "_leaky{leaky_slope}" if args.leaky_slope is not None else ""
        names["infogan"] += "_{dataset}"
    if args.model == "clustergan" and args.recipe != "course":  # other players: never the shipped course model
        names["clustergan"] = "clustergan_{recipe}_{dataset}"
    if args.validation and not args.out:  # a candidate must not replace the shipped model
        raise SystemExit("--validation trains a candidate on part of the training set: name its file with --out")
    return Path(args.out or pretrained.checkpoint_path(names.get(args.model, "{model}_{dataset}").format(**vars(args))))


def _checkpointing(args) -> Checkpointing:
    """Progress saved beside the output every ``--checkpoint-every`` steps: run the same command again after an
    interruption and it resumes there. The run is identified by every option except where progress is saved."""
    settings = {name: value for name, value in vars(args).items()
                if name not in ("argv", "checkpoint_every", "checkpoint_seconds")}
    return Checkpointing(progress_path(args), every=args.checkpoint_every, run=settings,
                         seconds=args.checkpoint_seconds)


def progress_path(args) -> Path:
    output = _output(args)
    return output.with_name(output.name + ".progress")


def _provenance(args) -> dict:
    return {"command": "python -m gan_lessons.train " + shlex.join(args.argv), "jax": jax.__version__,
            "device": jax.devices()[0].device_kind}


def _add_code_gan_options(commands: dict) -> None:
    """The options of the three GANs that read a code back out of images (InfoGAN, ClusterGAN, BiGAN)."""
    for name in ("infogan", "clustergan", "bigan"):
        commands[name].add_argument("--epochs", type=float, default=16)
        commands[name].add_argument("--batch-size", type=int, default=64)
    for name in ("infogan", "clustergan"):
        commands[name].add_argument("--validation", type=int, default=0, metavar="N",
                                    help="hold out N training images, train on the rest and score on "
                                         "those N instead of the test set (0: train on all, score on test)")
    commands["clustergan"].add_argument("--recipe", choices=["course", "paper"], default="course",
                                        help="course: non-saturating loss, σ = 0.75; paper: Mukherjee et al.'s "
                                             "WGAN-GP critic (5 steps per G step), σ = 0.1 (clustergan.PAPER)")
    commands["infogan"].add_argument("--real-weight", type=float, default=0.0,
                                     help="weight of the real-data term on Q (infogan.real_code_loss; 0: none)")
    commands["infogan"].add_argument("--networks", choices=["course", "paper"], default="course",
                                     help="course: infogan.INFOGAN; paper: Chen et al.'s, with FC 1024 layers "
                                          "(infogan.PAPER_NETWORKS); only the networks: --noise-dim sets z")
    commands["infogan"].add_argument("--noise-dim", type=int, default=INFOGAN.latent_dim,
                                     help="G's noise dimensions beside its codes, whatever the networks (the "
                                          "paper's MNIST model: 62, drawn from U(−1, 1))")
    commands["infogan"].add_argument("--noise", choices=NOISES, default="normal",
                                     help="G's noise: N(0, I), or U(−1, 1) as in the paper's MNIST model")
    commands["infogan"].add_argument("--q-batchnorm", action="store_true",
                                     help="a BatchNorm in Q's hidden layer, as in the authors' code")
    commands["infogan"].add_argument("--leaky-slope", type=float, default=None,
                                     help="D's and Q's LeakyReLU slope (default: the networks', DCGAN's 0.2; the "
                                          "authors' InfoGAN code: 0.01)")
    commands["infogan"].add_argument("--continuous-codes", type=int, default=0,
                                     help="continuous codes c′ ~ U(−1, 1) that Q estimates too (the paper's: 2)")
    commands["infogan"].add_argument("--shear", type=float, default=0.0,
                                     help="with --real-weight: the altered copies T(x) are also slanted by a "
                                          "shear of up to ± this (0: none)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: every model, its options and their defaults."""
    parser = argparse.ArgumentParser(prog="python -m gan_lessons.train", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="model", required=True)
    for name in ("classifier", "dcgan", "conditional_dcgan", "vae", "infogan", "clustergan", "bigan"):
        command = commands.add_parser(name)
        command.add_argument("--dataset", choices=sorted(LOADERS), default="mnist")
        command.add_argument("--seed", type=int, default=0)
        command.add_argument("--data-dir", default=None, help="folder with the IDX files (else the usual search)")
        command.add_argument("--out", default=None, help="where to write the checkpoint (default: the shipped one)")
        command.set_defaults(validation=0)  # all but InfoGAN and ClusterGAN (below) train on every training image
    commands.choices["classifier"].add_argument("--epochs", type=int, default=6)
    commands.choices["classifier"].add_argument("--no-augment", action="store_true",
                                                help="train on the images as they are, without random 2-pixel shifts")
    for dcgan in (commands.choices["dcgan"], commands.choices["conditional_dcgan"]):
        dcgan.add_argument("--config", choices=["cpu", "paper"], default="cpu")
        dcgan.add_argument("--epochs", type=float, default=10)
        dcgan.add_argument("--batch-size", type=int, default=128)
        dcgan.add_argument("--generator-learning-rate", type=float, default=2e-4)
        dcgan.add_argument("--discriminator-learning-rate", type=float, default=2e-4)
        dcgan.add_argument("--r1-weight", type=float, default=0.0, help="γ of the R1 penalty on D (0: none)")
    commands.choices["dcgan"].add_argument("--average-decay", type=float, default=0.0, metavar="DECAY",
                                           help="keep an average of G's weights (e.g. 0.999) and ship it (0: none)")
    commands.choices["dcgan"].add_argument("--judge-samples", type=int, default=10_000,
                                           help="samples the shipped classifier judges after training (0: none)")
    commands.choices["conditional_dcgan"].add_argument("--conditioning", choices=["input", "projection"],
                                                       default="projection", help="how D gets the label")
    variational = commands.choices["vae"]
    variational.add_argument("--config", choices=["cpu", "paper"], default="cpu", help="the decoder's DCGAN layers")
    variational.add_argument("--latent-dim", type=int, default=32)
    variational.add_argument("--epochs", type=float, default=8)
    variational.add_argument("--batch-size", type=int, default=64)
    variational.add_argument("--learning-rate", type=float, default=1e-3)
    _add_code_gan_options(commands.choices)
    for name, command in commands.choices.items():
        if name != "classifier":  # minutes of training: a restart costs little
            command.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS",
                                 help="save progress every STEPS steps; the same command resumes from it")
            command.add_argument("--checkpoint-seconds", type=float, default=60, metavar="SECONDS",
                                 help="but no more often than every SECONDS (a save stalls a GPU; 0: every STEPS)")
    return parser


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # stored with the checkpoint: the exact command that made it
    start = time.perf_counter()
    commands = {"classifier": _classifier_command, "dcgan": _dcgan_command,
                "conditional_dcgan": _conditional_dcgan_command, "vae": _vae_command,
                "infogan": _code_gan_command, "clustergan": _code_gan_command, "bigan": _code_gan_command}
    if args.model != "classifier" and progress_path(args).exists():
        print(f"resuming from {progress_path(args)}")
    result = commands[args.model](args)
    progress_path(args).unlink(missing_ok=True)  # the finished checkpoint is written: progress is no longer needed
    print({**result, "seconds": round(time.perf_counter() - start, 1)})
    return result


if __name__ == "__main__":
    main()
