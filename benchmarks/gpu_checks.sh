#!/usr/bin/env bash
# The GPU checks of issue "GPU-first speed", in one command for one device session (one NVIDIA H200: about
# 8 minutes, most of it the PyTorch comparison). Each step has its own time limit, the most important first;
# every step's output is kept under $OUT (the device tool brings that folder back).
#
# Prepare here, once (.device/ is git-ignored; the device machine has no internet and no ../shared):
#     mkdir -p .device/data && cp -r ../shared/data/mnist .device/data/
# then run it with the device tool: command `bash benchmarks/gpu_checks.sh`, carry [".device"], timeout 600.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_checks}"
mkdir -p "$out"
export GAN_LESSONS_DATA="$PWD/.device/data" PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the test processes share the GPU

step() {  # step NAME SECONDS COMMAND...: run COMMAND with a limit, its output to $out/NAME.txt and the screen
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit} s)"
  local started=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt" | tail -n 25
  echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - started)) s" | tee -a "$out/$name.txt"
}

step versions 60 python -c "import jax, flax, optax, torch; print('jax', jax.__version__, 'flax', flax.__version__,
'optax', optax.__version__, 'torch', torch.__version__, jax.devices())"
# the TensorFlow DCGAN tutorial's 50 epochs, end to end: compile and the final judgement included (goal <= 30 s)
step dcgan_50_epochs 200 python -m gan_lessons.train dcgan --config paper --epochs 50 --out /tmp/paper50.ckpt
# the divergence guard against the bare step (goal: ratio >= 0.90)
step guard 90 python benchmarks/training_speed.py --guard --steps 200
# JAX against PyTorch eager and torch.compile on the GPU (goal: JAX >= 2x PyTorch's best on every DCGAN)
step compare_pytorch 240 python benchmarks/compare_pytorch.py --device gpu --steps 200 --rounds 1
# the library's tests with this machine's jax (0.11.2 when last seen: the closest thing to Colab here)
step library_tests 150 python -m pytest -q -n 8 -p no:cacheprovider -m "not course_files" tests
