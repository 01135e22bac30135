"""JAX (this library) against PyTorch on the same GANs, in one run on one machine; and JAX's share of peak FLOP/s.

Not a test: it prints figures and ratios measured side by side, so the ratios compare like with like on a
shared, noisy machine. Every figure is measured in a fresh process of its own (the best of ``--repeats`` timed
runs after a warm-up), and the script runs ``--rounds`` rounds, JAX and PyTorch one after the other for each
model, the order flipped every round. This machine's speed drifts by 20 % within minutes, so each round's
ratio compares two processes run back to back, and the script prints every round's ratio and their median.
Needs PyTorch, a benchmark-only dependency:

    pip install -r benchmarks/requirements-torch.txt     # torch==2.13.0, the CPU build
    python benchmarks/compare_pytorch.py                  # add --quick for fewer steps and rounds
    python benchmarks/compare_pytorch.py --device gpu     # on an NVIDIA GPU (a CUDA build of torch and of jax)

On a GPU the script also times PyTorch with ``torch.compile`` (where it fails, it prints why), compares JAX with
the faster of PyTorch's two, and takes the peak from a large float32 matrix product measured there (what
``jnp.dot`` reaches at JAX's default precision), not from a formula.

FLOP efficiency: the FLOPs of one jitted training step come from XLA's own cost analysis of the compiled
program; achieved FLOP/s = FLOPs per step × steps per second. The peak is cores × clock × FLOPs per cycle per
core, where FLOPs per cycle = 2 (a fused multiply-add) × float32 lanes per FMA unit × FMA units per core:
16 lanes × 2 units on Xeon Gold/Platinum (two 512-bit FMA units), 8 lanes × 2 units on AMD Zen 4 (it runs
AVX-512 on two 256-bit units) and on AVX2-only CPUs; ``--lanes``/``--fma-units`` override the guess. The
clock is the nominal one from /proc/cpuinfo; a CPU boosting above it can beat that "peak", so the script
also times a 2048 × 2048 float32 matrix product with ``jnp.dot`` and divides by whichever of the two is
larger.

The library's compiler settings against XLA's defaults: the same jitted step compiled with ``compiling.jit``
(convolutions left to XLA's Eigen kernels rather than YNNPACK) and with plain ``jax.jit``, each timed in a
fresh process of its own, alternately: in one process, the YNNPACK program's worker threads slow the other.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

# the JAX side, as benchmarks/training_speed.py
from training_speed import BATCH, dcgan_states, mlp_states, time_bare_step, time_call, time_training, toy_batches

from gan_lessons import data, training
from gan_lessons.models import CONFIGS
from gan_lessons.steps import plain_train_step

MODELS = {"paper": "DCGAN paper", "cpu": "DCGAN cpu", "mlp": "MLP GAN"}
FRAMEWORKS = {"cpu": ("JAX", "PyTorch"), "gpu": ("JAX", "PyTorch", "PyTorch compiled")}
JAX_PLATFORMS = {"cpu": "cpu", "gpu": "cuda"}


def time_torch(gan, batches, repeats, synchronize=lambda: None):
    """images/s of ``gan.step`` over ``batches`` (a list of tensors), best of ``repeats``, after 2 warm-up steps.
    ``synchronize``: waits for the device (``torch.cuda.synchronize`` on a GPU, where steps run asynchronously)."""
    for batch in batches[:2]:
        gan.step(batch)
    synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            gan.step(batch)
        synchronize()
        best = min(best, time.perf_counter() - start)
    return len(batches) * BATCH / best


def vector_unit(info: str) -> tuple[int, int]:
    """(float32 lanes per FMA unit, FMA units per core), guessed from /proc/cpuinfo's text."""
    # AMD family 25 (Zen 3, Zen 4) splits a 512-bit FMA over two 256-bit halves; Zen 5 (26) does not
    zen4 = "AuthenticAMD" in info and int((re.search(r"cpu family\s*:\s*(\d+)", info) or [0, 0])[1]) == 25
    if " avx512f" in info and not zen4:
        return 16, 2
    return (8, 2) if " avx2" in info else (4, 2)


def cpu_peak_flops(lanes: int | None, fma_units: int | None) -> tuple[float, str]:
    """cores × clock × 2 × lanes × FMA units, from /proc/cpuinfo; and the sum written out."""
    info = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    guessed_lanes, guessed_units = vector_unit(info)
    lanes, fma_units = lanes or guessed_lanes, fma_units or guessed_units
    found = re.search(r"@ ([0-9.]+)GHz", info) or re.search(r"cpu MHz\s*:\s*([0-9.]+)", info)
    gigahertz = float(found.group(1)) if found else float("nan")
    gigahertz = gigahertz / 1000 if gigahertz > 100 else gigahertz  # "cpu MHz" gives MHz
    cores = os.cpu_count()
    peak = cores * gigahertz * 1e9 * 2 * lanes * fma_units
    return peak, f"{cores} cores × {gigahertz:.2f} GHz × 2 (FMA) × {lanes} float32 lanes × {fma_units} FMA units"


def matmul_flops_per_second(size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a float32 (size × size) matrix product in JAX: what this device reaches on the friendliest work."""
    a = jax.random.normal(jax.random.key(0), (size, size))
    return 2 * size ** 3 / time_call(jax.jit(jnp.dot), a, a, calls=repeats, repeats=3)


def bare_step_rate(config_name: str, settings: str, steps: int, repeats: int) -> float:
    """images/s of the bare step of one DCGAN configuration, compiled with the library's settings or XLA's."""
    step = (training.train_step if settings == "library"
            else jax.jit(plain_train_step, static_argnames=("objective",)))
    images, _ = data.load_mnist("train")
    batches = data.epoch_batches(jax.random.key(0), images, BATCH)[:steps]
    d_state, g_state = dcgan_states(CONFIGS[config_name])
    return time_bare_step(d_state, g_state, batches, "loop", repeats, step=step)


def compare_settings(config_name: str, steps: int, repeats: int, rounds: int = 2) -> tuple[float, float]:
    """(library, XLA defaults) images/s: the best of ``rounds`` fresh processes each, run alternately."""
    rates = {"library": [], "stock": []}
    for _ in range(rounds):
        for settings in rates:
            command = [sys.executable, __file__, "--bare-step", config_name, settings, "--steps", str(steps),
                       "--repeats", str(repeats)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rates[settings].append(float(output.split()[-1]))
    return max(rates["library"]), max(rates["stock"])


def step_flops(d_state, g_state, batch) -> float:
    """FLOPs of one compiled ``training.train_step``, from XLA's cost analysis."""
    compiled = training.train_step.lower(d_state, g_state, batch, jax.random.key(0)).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    return float(analysis["flops"])


def jax_mlp_rate(ring_batches, repeats) -> float:
    """images/s of the library's MLP GAN (chapter 02's players) with its fastest runner, the fused scan."""
    return time_training(*mlp_states(), ring_batches, "scan", repeats)[0]


def model_steps(model: str, steps: int) -> int:
    """Timed steps per run: ``steps`` for the paper DCGAN, 8 times as many for the 8 times faster cpu one."""
    return {"paper": steps, "cpu": steps * 8, "mlp": 200}[model]


def measure(framework: str, model: str, steps: int, repeats: int, device: str = "cpu") -> float:
    """images/s of one framework on one model, in this process: what a fresh process of ``--measure`` prints.

    JAX is ``training.train`` as a student calls it (divergence guard included; the runner it picks on this
    device); PyTorch is eager mode with its default threads, or its step under ``torch.compile``. Both train on
    the same batches.
    """
    count = model_steps(model, steps)
    if model == "mlp":
        batches = toy_batches(count)
    else:
        images, _ = data.load_mnist("train")
        batches = np.asarray(data.epoch_batches(jax.random.key(0), images, BATCH)[:count])
    if framework == "JAX":
        if model == "mlp":
            return jax_mlp_rate(batches, repeats)
        d_state, g_state = dcgan_states(CONFIGS[model])
        return time_training(d_state, g_state, batches, training.choose_runner(d_state, g_state), repeats)[0]
    return torch_rate(framework, model, batches, repeats, device)


def torch_rate(framework: str, model: str, batches, repeats: int, device: str) -> float:
    import torch
    from torch_reference import make_torch_dcgan, make_torch_mlp_gan

    torch.manual_seed(0)
    target = "cuda" if device == "gpu" else "cpu"
    if model == "mlp":
        gan, tensors = make_torch_mlp_gan(target), [torch.from_numpy(np.array(b)) for b in batches]
    else:
        gan = make_torch_dcgan(CONFIGS[model], target)
        tensors = [torch.from_numpy(np.ascontiguousarray(b.transpose(0, 3, 1, 2))) for b in batches]  # NCHW
    if framework == "PyTorch compiled":
        gan.step = torch.compile(gan.step)
    synchronize = torch.cuda.synchronize if target == "cuda" else (lambda: None)
    return time_torch(gan, [tensor.to(target) for tensor in tensors], repeats, synchronize)


def measure_in_fresh_process(framework: str, model: str, steps: int, repeats: int,
                             device: str = "cpu") -> tuple[float, str]:
    """(images/s, "") from a fresh process; (nan, the error's last line) where that process fails."""
    command = [sys.executable, __file__, "--measure", framework, model, "--steps", str(steps),
               "--repeats", str(repeats), "--device", device]
    environment = dict(os.environ, JAX_PLATFORMS=JAX_PLATFORMS[device])
    ran = subprocess.run(command, capture_output=True, text=True, env=environment)
    if ran.returncode != 0:
        lines = [line for line in ran.stderr.splitlines() if line.strip()]
        return float("nan"), (lines[-1] if lines else f"exit status {ran.returncode}")
    return float(ran.stdout.split()[-1]), ""


def median(values) -> float:
    return float(np.median(values))


def best_torch_rates(rates, model: str, frameworks) -> list[float]:
    """Per round, the faster of PyTorch's runs on ``model`` (a failed one, nan, never counts)."""
    per_round = zip(*(rates[model, name] for name in frameworks if name != "JAX"))
    return [max((rate for rate in round_rates if rate == rate), default=float("nan")) for round_rates in per_round]


def compare_frameworks(device: str, steps: int, rounds: int, repeats: int):
    """Every framework on every model in fresh processes, ``rounds`` times, the order flipped each round."""
    frameworks = FRAMEWORKS[device]
    rates = {(model, framework): [] for model in MODELS for framework in frameworks}
    failures = {}
    for round_number in range(rounds):
        order = frameworks if round_number % 2 == 0 else frameworks[::-1]  # none always goes first
        for model in MODELS:
            for framework in order:
                rate, error = measure_in_fresh_process(framework, model, steps, repeats, device)
                rates[model, framework].append(rate)
                if error:
                    failures[model, framework] = error
        print(f"round {round_number + 1}: " + ", ".join(
            f"{MODELS[model]} {rates[model, 'JAX'][-1] / best_torch_rates(rates, model, frameworks)[-1]:.2f}x"
            for model in MODELS), flush=True)
    return rates, failures


def print_comparison(device: str, rates, failures):
    frameworks = FRAMEWORKS[device]
    print(f"\n{'model':12s} " + " ".join(f"{name + ' images/s':>26s}" for name in frameworks)
          + f" {'JAX / best PyTorch':>19s}   (medians over the rounds; each round's ratio)")
    for model, name in MODELS.items():
        ratios = [jax_rate / torch_rate for jax_rate, torch_rate
                  in zip(rates[model, "JAX"], best_torch_rates(rates, model, frameworks))]
        print(f"{name:12s} " + " ".join(f"{median(rates[model, framework]):26.1f}" for framework in frameworks)
              + f" {median(ratios):18.2f}x   ({', '.join(f'{ratio:.2f}' for ratio in ratios)})")
    for (model, framework), error in failures.items():
        print(f"  {framework} failed on {MODELS[model]} (nan above): {error}")


def print_flop_efficiency(device: str, rates, lanes, fma_units):
    """The JAX step's FLOPs (XLA's cost analysis) × its median rate, against the device's peak."""
    measured = matmul_flops_per_second(8192 if device == "gpu" else 2048)
    if device == "gpu":
        peak, source = measured, f"an 8192 x 8192 float32 matmul measured {measured / 1e12:.1f} TFLOP/s"
    else:
        formula_peak, formula = cpu_peak_flops(lanes, fma_units)
        peak = max(formula_peak, measured)
        source = (f"peak by formula: {formula} = {formula_peak / 1e9:.0f} GFLOP/s; a 2048 x 2048 float32 matmul "
                  f"measured {measured / 1e9:.0f} GFLOP/s; the larger")
    print(f"\nFLOP efficiency of the JAX step (XLA cost analysis), at the median JAX rate.\n  {source}: "
          f"{peak / 1e9:.0f} GFLOP/s")
    images, _ = data.load_mnist("train")
    first_batch = data.epoch_batches(jax.random.key(0), images, BATCH)[0]
    for model in ("paper", "cpu"):
        step = step_flops(*dcgan_states(CONFIGS[model]), first_batch)
        achieved = step * median(rates[model, "JAX"]) / BATCH
        print(f"{MODELS[model]:12s} {step / 1e9:6.2f} GFLOP per step of {BATCH}, {achieved / 1e9:8.1f} GFLOP/s "
              f"achieved = {achieved / peak:6.1%} of peak")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run for the paper DCGAN")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="fresh JAX and PyTorch processes per model")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where both frameworks run")
    parser.add_argument("--lanes", type=int, help="float32 lanes per FMA unit, for the peak (default: guessed)")
    parser.add_argument("--fma-units", type=int, help="vector FMA units per core, for the peak (default: guessed)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bare-step", nargs=2, metavar=("CONFIG", "SETTINGS"),
                        help="only print the images/s of one bare step (used by the script itself)")
    parser.add_argument("--measure", nargs=2, metavar=("FRAMEWORK", "MODEL"),
                        help="only print the images/s of one framework on one model (used by the script itself)")
    args = parser.parse_args()
    steps, rounds = (6, 2) if args.quick else (args.steps, args.rounds)
    if args.bare_step:
        return print(bare_step_rate(*args.bare_step, steps, args.repeats))
    if args.measure:
        return print(measure(*args.measure, steps, args.repeats, args.device))
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install -r benchmarks/requirements-torch.txt (the CPU build)")
    if args.device == "gpu" and not (torch.cuda.is_available() and jax.default_backend() == "gpu"):
        sys.exit(f"--device gpu needs a GPU for both: torch.cuda.is_available() {torch.cuda.is_available()}, "
                 f"JAX's backend {jax.default_backend()}")
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}; {rounds} rounds")
    rates, failures = compare_frameworks(args.device, steps, rounds, args.repeats)
    print_comparison(args.device, rates, failures)
    if args.device == "cpu":  # the compiler option is XLA:CPU's
        print("\nthe bare jitted step (no divergence guard), each in fresh processes: the library's compiler "
              "settings against XLA's defaults")
        for model in ("paper", "cpu"):
            library, stock = compare_settings(model, model_steps(model, steps), args.repeats)
            print(f"{MODELS[model]:12s} library {library:8.1f} images/s, XLA defaults {stock:8.1f} images/s: "
                  f"{library / stock:.2f}x")
    print_flop_efficiency(args.device, rates, args.lanes, args.fma_units)

if __name__ == "__main__":
    main()
