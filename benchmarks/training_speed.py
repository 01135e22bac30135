"""Training speed of the library's GANs on this machine: images per second, with ratios.

Not a test: it prints figures measured in one run, so the ratios compare like
with like on a shared, noisy machine. Each figure is the best of ``--repeats``
timed runs of ``--steps`` training steps (batch 128), after one warm-up call
that compiles. Run:

    python benchmarks/training_speed.py            # all cases
    python benchmarks/training_speed.py --quick    # fewer steps
    python benchmarks/training_speed.py --guard    # only the divergence guard against the bare step
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np
import optax
from flax import nnx

from gan_lessons import cpu_kernels, data, training
from gan_lessons.compiling import jit
from gan_lessons.models import CPU, PAPER, MLPDiscriminator, MLPGenerator, make_dcgan

BATCH = 128


def time_training(d_state, g_state, batches, runner, repeats):
    """images/s of ``training.train`` over ``batches`` (the best of ``repeats``), and its compile seconds: the
    first call's time less a timed one's. The first call runs the very program the timed ones run (the scan
    runner compiles one program per chunk length), so no timed call includes compiling."""
    key = jax.random.key(1)

    def seconds():
        start = time.perf_counter()
        _, g_after, _ = training.train(d_state, g_state, batches, key, runner=runner,
                                       chunk_steps=len(batches), progress=False)
        jax.block_until_ready(g_after.params)
        return time.perf_counter() - start

    first = seconds()
    best = min(seconds() for _ in range(repeats))
    return len(batches) * BATCH / best, max(first - best, 0.0)


def time_scan(d_state, g_state, batches, unroll, repeats):
    """images/s and compile seconds of ``train_scan`` over all of ``batches`` with the given unroll."""
    keys = jax.random.split(jax.random.key(1), len(batches))
    start = time.perf_counter()
    compiled = training.train_scan.lower(d_state, g_state, batches, keys, unroll=unroll).compile()
    compile_seconds = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(d_state, g_state, batches, keys)[1].params)
        best = min(best, time.perf_counter() - start)
    return len(batches) * BATCH / best, compile_seconds


def time_bare_step(d_state, g_state, batches, runner, repeats, step=None):
    """images/s of the jitted step without the runner around it (no divergence guard): the reference
    the guarded ``training.train`` is compared with. ``step``: the jitted step the "loop" runner calls
    (default ``training.train_step``)."""
    keys = jax.random.split(jax.random.key(1), len(batches))
    step = step or training.train_step

    def run():
        if runner == "scan":
            return training.train_scan(d_state, g_state, batches, keys)[1].params
        d, g = d_state, g_state
        for batch, key in zip(batches, keys):
            d, g, _ = step(d, g, batch, key)
        return g.params

    jax.block_until_ready(run())  # compiles
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run())
        best = min(best, time.perf_counter() - start)
    return len(batches) * BATCH / best


def time_call(function, *args, calls=20, repeats=5):
    """Seconds per call of a jitted ``function``, best of ``repeats`` runs of ``calls`` calls, after compiling."""
    jax.block_until_ready(function(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = function(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def transposed_forward_rates(config, repeats):
    """Seconds per forward of each strided transposed convolution of ``config``'s G at batch 128, in each of
    ``cpu_kernels.TRANSPOSED_FORMS``, and the form the layer takes; then D's first convolution, lax against the
    product."""
    side, channels = 7, [config.projection_channels] + [c for c, _ in config.generator_layers]
    rows = []
    for (c_in, c_out), (_, stride) in zip(zip(channels[:-1], channels[1:]), config.generator_layers):
        if stride > 1:
            x = jax.random.normal(jax.random.key(0), (BATCH, side, side, c_in))
            kernel = jax.random.normal(jax.random.key(1), (config.kernel_size,) * 2 + (c_in, c_out))
            seconds = {form: time_call(jit(function, static_argnums=2), x, kernel, (stride, stride), repeats=repeats)
                       for form, function in cpu_kernels.TRANSPOSED_FORMS.items()}
            rows.append((f"{config.name} G: {side}x{side}x{c_in} -> {side * stride}x{side * stride}x{c_out}", seconds,
                         cpu_kernels.transposed_form(kernel.shape, (stride, stride))))
        side *= stride
    images = jax.random.normal(jax.random.key(2), (BATCH, 28, 28, 1))
    kernel = jax.random.normal(jax.random.key(3), (config.kernel_size,) * 2 + (1, config.discriminator_channels[0]))
    seconds = {form: time_call(jit(function, static_argnums=2), images, kernel, (2, 2), repeats=repeats)
               for form, function in (("stock", cpu_kernels._lax_strided_convolution),
                                      ("product", cpu_kernels.strided_convolution_product))}
    rows.append((f"{config.name} D: 28x28x1 -> 14x14x{kernel.shape[3]}", seconds,
                 cpu_kernels.strided_form(images.shape[3], (2, 2))))
    return rows


def dcgan_states(config, cpu_kernels_on: bool | None = None):
    """Both players' states; ``cpu_kernels_on``: the models' switch (None: on where JAX runs on a CPU)."""
    generator, discriminator = make_dcgan(config, jax.random.key(0), cpu_kernels=cpu_kernels_on)
    return (training.TrainState.create(discriminator, training.dcgan_optimizer()),
            training.TrainState.create(generator, training.dcgan_optimizer()))


def mlp_states():
    """Chapter 02's ring players (an MLP G and D) with Adam (1e-3, β1 = 0.5): (d_state, g_state)."""
    generator, discriminator = MLPGenerator(16, (2,), rngs=nnx.Rngs(0)), MLPDiscriminator((2,), rngs=nnx.Rngs(1))
    return (training.TrainState.create(discriminator, optax.adam(1e-3, b1=0.5)),
            training.TrainState.create(generator, optax.adam(1e-3, b1=0.5)))


def toy_batches(steps: int = 200):
    """``steps`` batches of the ring of 8 Gaussians."""
    ring = data.ring_of_gaussians()
    return np.asarray(ring.sample(jax.random.key(3), steps * BATCH)).reshape(steps, BATCH, 2)


def guard_overhead(batches, ring_batches, steps, repeats):
    """The divergence guard's cost: ``training.train`` (guarded) against the bare jitted step, same batches.

    The goal (issue "GPU-first speed"): the guarded rate at least 0.90 of the bare one, on every device."""
    print("\nThe divergence guard (running.run_steps: NaN/Inf checks and the keep-last-good select in every step)")
    print(f"{'case':40s} {'guarded':>10s} {'bare step':>10s} {'ratio':>7s}")
    for config, case_steps in ((CPU, steps * 8), (PAPER, steps)):
        d_state, g_state = dcgan_states(config)  # the models' default on this device
        runner = training.choose_runner(d_state, g_state)  # the one training.train picks on this device
        guarded = time_training(d_state, g_state, batches[:case_steps], runner, repeats)[0]
        bare = time_bare_step(d_state, g_state, batches[:case_steps], runner, repeats)
        name = f"DCGAN {config.name}, {'Python loop' if runner == 'loop' else 'lax.scan'}"
        print(f"{name:40s} {guarded:10.1f} {bare:10.1f} {guarded / bare:6.2f}x", flush=True)
    d_state, g_state = mlp_states()
    guarded = time_training(d_state, g_state, ring_batches, "scan", repeats)[0]
    bare = time_bare_step(d_state, g_state, ring_batches, "scan", repeats)
    print(f"{'MLP GAN, lax.scan':40s} {guarded:10.0f} {bare:10.0f} {guarded / bare:6.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run for the paper DCGAN")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--guard", action="store_true", help="only the divergence guard's cost")
    args = parser.parse_args()
    steps = 8 if args.quick else args.steps

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cores, {platform.processor()}")
    images, _ = data.load_mnist("train")
    batches = data.epoch_batches(jax.random.key(0), images, BATCH)
    if args.guard:
        return guard_overhead(batches, toy_batches(), steps, args.repeats)
    results = {}
    cases = [
        ("paper, plain layers", PAPER, False, steps),
        ("paper, CPU kernels", PAPER, True, steps),
        ("cpu, plain layers", CPU, False, steps * 8),
        ("cpu, CPU kernels", CPU, True, steps * 8),
    ]
    print(f"\nDCGAN, Python loop over the jitted step, batch {BATCH}")
    print(f"{'case':40s} {'images/s':>10s} {'compile s':>10s}")
    for name, config, fast, case_steps in cases:
        d_state, g_state = dcgan_states(config, fast)
        rate, compile_seconds = time_training(d_state, g_state, batches[:case_steps], "loop", args.repeats)
        results[name] = rate
        print(f"{name:40s} {rate:10.1f} {compile_seconds:10.2f}", flush=True)

    paper = results["paper, CPU kernels"]
    print("\nratios measured in this run:")
    print(f"  CPU kernels / plain, paper:  {paper / results['paper, plain layers']:.2f}x")
    cpu_fast, cpu_stock = results["cpu, CPU kernels"], results["cpu, plain layers"]
    print(f"  CPU kernels / plain, cpu:    {cpu_fast / cpu_stock:.2f}x")
    print(f"  cpu / paper (both kernels):  {cpu_fast / paper:.2f}x")
    print(f"  cpu / paper (both plain):    {cpu_stock / results['paper, plain layers']:.2f}x")

    print(f"\nForward passes at batch {BATCH}: G's strided transposed convolutions (stock: over a zero-dilated "
          "input; phases: sub-pixel; product: one matrix product) and D's first convolution")
    print(f"{'layer':40s} {'stock ms':>10s} {'phases ms':>10s} {'product ms':>11s}  the layer takes")
    for config in (PAPER, CPU):
        for name, seconds, used in transposed_forward_rates(config, args.repeats):
            cells = " ".join(f"{seconds[form] * 1e3:10.2f}" if form in seconds else f"{'':>10s}"
                             for form in ("stock", "phases"))
            print(f"{name:40s} {cells} {seconds['product'] * 1e3:11.2f}  {used} "
                  f"({seconds['stock'] / seconds[used]:.2f}x stock)", flush=True)

    scan_steps = max(2, steps // 3)  # a rolled scan of conv steps is slow on XLA:CPU: keep its run short
    print(f"\nDCGAN cpu (CPU kernels): Python loop vs lax.scan, {scan_steps} steps per scan call")
    print(f"{'runner':40s} {'images/s':>10s} {'compile s':>10s}")
    conv_rates = {"Python loop over jitted step": cpu_fast}
    d_state, g_state = dcgan_states(CPU, True)
    for name, unroll in (("rolled lax.scan (unroll=1)", 1), (f"unrolled lax.scan (unroll={scan_steps})", scan_steps)):
        conv_rates[name], compile_seconds = time_scan(d_state, g_state, batches[:scan_steps], unroll, args.repeats)
        print(f"{name:40s} {conv_rates[name]:10.1f} {compile_seconds:10.2f}", flush=True)
    for name, rate in conv_rates.items():
        print(f"  {name} / loop: {rate / cpu_fast:.2f}x")

    print(f"\nMLP GAN on the ring of 8 Gaussians, batch {BATCH}: runner comparison")
    ring_batches = toy_batches()
    rates = {}
    for runner in ("scan", "loop"):
        rates[runner], _ = time_training(*mlp_states(), ring_batches, runner, args.repeats)
        print(f"  {runner:5s} {rates[runner]:12.0f} images/s", flush=True)
    print(f"  scan / loop: {rates['scan'] / rates['loop']:.2f}x")

    guard_overhead(batches, ring_batches, steps, args.repeats)

if __name__ == "__main__":
    main()
