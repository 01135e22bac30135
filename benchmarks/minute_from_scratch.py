"""Chapter 04's live run against PyTorch: the same DCGAN trained from scratch for the same wall-clock budget on
this machine, both judged by the course's classifier.

Not a test: it prints what each framework's generator draws after ``--seconds`` of training, seed by seed. Each
run is a fresh process that trains new players with the chapter's recipe (``dcgan.LIVE_RUN``: the `cpu` DCGAN,
batches of 128, Adam with β1 = 0.5) on the same batches until the budget is spent, JAX's compilation included.
The chapter lets the rate fall on a cosine over its steps; here it falls over the budget's seconds instead (to 5 %
of ``LIVE_RUN.learning_rate`` when the time is up), so that both frameworks stop at the same second whatever
their speed that minute. PyTorch is eager mode (``benchmarks/torch_reference.py``: the same layers,
initialisation, losses, Adam and step). The order of the two flips every seed, as in ``compare_pytorch.py``:
this machine's speed drifts within minutes.

``--model infogan`` trains chapter 04 section 9's label-free code instead: InfoGAN with its real-data term
(``infogan.train_step`` with ``real_weight=1, shear=0.3``, ``make_infogan``'s constant rates, batches of 64), its
samples drawn for the codes 0-9 in turn. Its rates do not fall, so both frameworks simply train until time is up.

    pip install -r benchmarks/requirements-torch.txt     # torch==2.13.0, the CPU build
    python benchmarks/minute_from_scratch.py              # --seconds 60 --seeds 3 --model dcgan
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_lessons import classifier, conditional, data, dcgan, infogan, pretrained, training
from gan_lessons.models import CONFIGS, make_dcgan

FRAMEWORKS = ("JAX", "PyTorch")
STEPS_PER_SECOND_BOUND = 45  # more than either framework trains here: the batches drawn before the clock starts
MODELS = ("dcgan", "infogan")  # chapter 04 section 5's DCGAN, section 9's label-free InfoGAN
BATCH_SIZES = {"dcgan": dcgan.LIVE_RUN.batch_size, "infogan": 64}  # the chapter's for each (infogan.train's 64)
REAL_TERM = {"real_weight": 1.0, "shear": 0.3}  # chapter 04 section 9's InfoGAN: `--real-weight 1 --shear 0.3`


def rate_at(elapsed: float, seconds: float) -> float:
    """The live run's rate after ``elapsed`` of ``seconds``: ``dcgan.live_run_optimizer``'s cosine from
    LIVE_RUN's rate to 5 % of it, over seconds instead of steps."""
    fraction = min(elapsed / seconds, 1.0)
    return dcgan.LIVE_RUN.learning_rate * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * fraction)))


def with_rate(state: training.TrainState, rate: float) -> training.TrainState:
    """``state`` with the learning rate its optimiser (``optax.inject_hyperparams``) uses at the next step."""
    hyperparameters = {**state.opt_state.hyperparams, "learning_rate": jnp.asarray(rate, jnp.float32)}
    return state.replace(opt_state=state.opt_state._replace(hyperparams=hyperparameters))


def train_until(seconds: float, batches, step):
    """``step(batch, index, elapsed)`` on each batch in turn until ``seconds`` have passed, compilation included
    (``step`` returns once its update has finished, not when it is only dispatched); returns (steps, seconds,
    seconds of the first step)."""
    start, steps, first = time.perf_counter(), 0, 0.0
    while (elapsed := time.perf_counter() - start) < seconds and steps < len(batches):
        step(batches[steps], steps, elapsed)
        steps += 1
        first = first or time.perf_counter() - start  # JAX's first step compiles
    return steps, time.perf_counter() - start, first


def jax_run(seed: int, batches, seconds: float):
    """Train until ``seconds`` have passed, compilation included; returns (steps, seconds, seconds of the first
    step, G(judge_latents()))."""
    model_key, _, train_key = jax.random.split(jax.random.key(seed), 3)
    generator, discriminator = make_dcgan(dcgan.LIVE_RUN.config, model_key)
    optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=dcgan.LIVE_RUN.learning_rate, b1=0.5)
    players = {"d": training.TrainState.create(discriminator, optimizer),
               "g": training.TrainState.create(generator, optimizer)}

    def step(batch, index, elapsed):
        rate = rate_at(elapsed, seconds)
        d_state, g_state = (with_rate(players[name], rate) for name in "dg")
        step_key = jax.random.fold_in(train_key, index)
        players["d"], players["g"], _ = training.train_step(d_state, g_state, batch, step_key)
        jax.block_until_ready(players["g"].params)  # the clock must see each step finished, not only dispatched

    return *train_until(seconds, batches, step), training.generate(players["g"], judge_latents())


def torch_run(seed: int, batches, seconds: float):
    """The same for PyTorch eager."""
    import torch
    from torch_reference import make_torch_dcgan

    torch.manual_seed(seed)
    gan = make_torch_dcgan(CONFIGS[dcgan.LIVE_RUN.config], learning_rate=dcgan.LIVE_RUN.learning_rate)

    def step(batch, index, elapsed):
        for optimizer in (gan.g_optimizer, gan.d_optimizer):
            optimizer.param_groups[0]["lr"] = rate_at(elapsed, seconds)
        gan.step(batch)

    return *train_until(seconds, torch_batches(batches), step), torch_generate(gan.generator, judge_latents())


def jax_infogan_run(seed: int, batches, seconds: float):
    """``jax_run`` for InfoGAN with its real-data term, at ``make_infogan``'s constant rates; its samples are
    G(z, c) for ``judge_codes``."""
    model_key, _, train_key = jax.random.split(jax.random.key(seed), 3)
    players = dict(zip("gd", infogan.make_infogan(model_key)))

    def step(batch, index, elapsed):
        players["d"], players["g"], _ = infogan.train_step(players["d"], players["g"], batch,
                                                           jax.random.fold_in(train_key, index), **REAL_TERM)
        jax.block_until_ready(players["g"].params)

    trained = train_until(seconds, batches, step)
    return *trained, conditional.generate(players["g"], *judge_codes(training.latent_dim(players["g"])))


def torch_infogan_run(seed: int, batches, seconds: float):
    """The same for PyTorch eager (``torch_reference.TorchInfoGAN``)."""
    import torch
    from torch_reference import TorchInfoGAN

    torch.manual_seed(seed)
    gan = TorchInfoGAN(infogan.INFOGAN, **REAL_TERM)
    trained = train_until(seconds, torch_batches(batches), lambda batch, index, elapsed: gan.step(batch))
    z, codes = judge_codes(gan.latent_dim)
    return *trained, torch_generate(gan.generator, z, np.asarray(codes, np.int64))  # one_hot takes int64


def torch_generate(generator, *inputs):
    """G's samples (N, 28, 28, 1) for ``inputs`` (arrays), with BatchNorm's running averages, as
    ``training.generate``."""
    import torch

    generator.eval()
    with torch.no_grad():
        return generator(*(torch.from_numpy(np.array(part)) for part in inputs)).numpy().transpose(0, 2, 3, 1)


def torch_batches(batches):
    """The batches as PyTorch tensors in its NCHW layout, made before the clock starts."""
    import torch

    return [torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))) for batch in batches]


RUNS = {("dcgan", "JAX"): jax_run, ("dcgan", "PyTorch"): torch_run,
        ("infogan", "JAX"): jax_infogan_run, ("infogan", "PyTorch"): torch_infogan_run}


def judge_codes(noise_dim: int):
    """What InfoGAN is judged on, as chapter 04: the first ``noise_dim`` columns of ``judge_latents`` and the
    codes 0-9 in turn."""
    z = judge_latents()
    return z[:, :noise_dim], jnp.arange(len(z)) % 10


def judge_latents(count: int = 10_000):
    """The z both frameworks' generators are judged on: 10,000 draws of one fixed key."""
    return training.sample_latent(jax.random.key(1234), count, CONFIGS[dcgan.LIVE_RUN.config].latent_dim)


def run(model: str, framework: str, seed: int, seconds: float) -> dict:
    """One framework's run of ``model``, judged: what a fresh process of ``--run`` prints as JSON."""
    images, _ = data.load_mnist("train")
    data_key = jax.random.split(jax.random.key(seed), 3)[1]
    batches = data.batches_for_steps(data_key, images, BATCH_SIZES[model], int(seconds * STEPS_PER_SECOND_BOUND))
    steps, trained, first, samples = RUNS[model, framework](seed, batches, seconds)
    if steps == len(batches):
        sys.exit(f"{framework} used every batch drawn before {seconds} s: raise STEPS_PER_SECOND_BOUND")
    judge, _ = pretrained.load_classifier("mnist")
    shares, confidence = classifier.judge(judge, samples)
    return {"steps": steps, "seconds": trained, "first_step_seconds": first, "confidence": confidence,
            "smallest_class": float(shares.min())}


def run_in_fresh_process(model: str, framework: str, seed: int, seconds: float) -> dict:
    command = [sys.executable, __file__, "--run", framework, str(seed), "--seconds", str(seconds), "--model", model]
    environment = {name: value for name, value in os.environ.items() if name != "JAX_COMPILATION_CACHE_DIR"}
    # no compilation cache: every JAX run compiles inside its budget, as a student's first run does
    ran = subprocess.run(command, capture_output=True, text=True, env=dict(environment, JAX_PLATFORMS="cpu"))
    if ran.returncode != 0:
        sys.exit(f"{framework}, seed {seed} failed:\n{ran.stderr[-2000:]}")
    return json.loads(ran.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="each run's budget, compilation included")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", choices=MODELS, default="dcgan", help="section 5's DCGAN or section 9's code")
    parser.add_argument("--run", nargs=2, metavar=("FRAMEWORK", "SEED"),
                        help="only one framework's run, printed as JSON (used by the script itself)")
    args = parser.parse_args()
    if args.run:
        return print(json.dumps(run(args.model, args.run[0], int(args.run[1]), args.seconds)))
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install -r benchmarks/requirements-torch.txt (the CPU build)")
    print(f"jax {jax.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} cores; {args.seconds:.0f} s per run; "
          + (f"recipe {dcgan.LIVE_RUN}" if args.model == "dcgan" else f"InfoGAN {infogan.INFOGAN}, {REAL_TERM}"))
    print(f"{'seed':>4} {'framework':9} {'steps':>6} {'seconds':>8} {'first step s':>12} {'confidence':>10} "
          f"{'smallest class':>15}")
    results = {framework: [] for framework in FRAMEWORKS}
    for seed in range(args.seeds):
        for framework in FRAMEWORKS if seed % 2 == 0 else FRAMEWORKS[::-1]:
            result = run_in_fresh_process(args.model, framework, seed, args.seconds)
            results[framework].append(result)
            print(f"{seed:4d} {framework:9} {result['steps']:6d} {result['seconds']:8.1f} "
                  f"{result['first_step_seconds']:12.1f} {result['confidence']:10.4f} "
                  f"{result['smallest_class']:15.1%}", flush=True)
    print("\nmedians over the seeds:")
    for framework, runs in results.items():
        median = {name: np.median([run[name] for run in runs]) for name in runs[0]}
        print(f"  {framework:9} steps {median['steps']:.0f}, seconds {median['seconds']:.1f}, confidence "
              f"{median['confidence']:.3f}, smallest class {median['smallest_class']:.1%}")
    gaps = [ours["confidence"] - theirs["confidence"] for ours, theirs in zip(results["JAX"], results["PyTorch"])]
    print(f"  JAX − PyTorch confidence, seed by seed (same batches, not the same initial weights): "
          f"{', '.join(f'{gap:+.4f}' for gap in gaps)}")


if __name__ == "__main__":
    main()
