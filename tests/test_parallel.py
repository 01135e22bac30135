"""Data parallelism: the sharded DCGAN step equals the single-device one, and XLA averages the gradients.

JAX fixes its device count when it starts, so the multi-device checks run in a fresh Python process
that asks for four host CPU devices (on the CPU platform, whatever accelerators the machine has).
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from gan_lessons import parallel

SCRIPT = textwrap.dedent("""
    import json
    import jax
    jax.config.update("jax_num_cpu_devices", 4)
    import jax.numpy as jnp
    import numpy as np
    from gan_lessons import parallel, training
    from gan_lessons.models import make_dcgan

    import optax

    real = jax.random.uniform(jax.random.key(1), (32, 28, 28, 1), minval=-1, maxval=1)
    mesh = parallel.data_parallel_mesh(4)
    sharded_real = parallel.shard_batch(real, mesh)

    def train(optimizer, steps, on_mesh, rows=32):
        generator, discriminator = make_dcgan("cpu", jax.random.key(0))
        d_state = training.TrainState.create(discriminator, optimizer)
        g_state = training.TrainState.create(generator, optimizer)
        keys, batch = jax.random.split(jax.random.key(2), steps), real[:rows]
        if on_mesh:
            d_state, g_state, keys = parallel.replicate((d_state, g_state, keys), mesh)
            batch = parallel.shard_batch(batch, mesh)
        for step_key in keys:
            d_state, g_state, _ = training.train_step(d_state, g_state, batch, step_key)
        leaves = jax.tree.leaves((d_state.params, g_state.params, d_state.batch_stats))
        return np.concatenate([np.ravel(leaf) for leaf in leaves]), d_state, g_state, keys[-1], batch

    single_sgd = train(optax.sgd(0.1), 1, False)[0]
    sharded_sgd, d_copy, g_copy, key_copy, _ = train(optax.sgd(0.1), 1, True)
    own_rows_sgd = train(optax.sgd(0.1), 1, False, rows=8)[0]  # device 0 without the all-reduce
    single_adam = train(training.dcgan_optimizer(), 3, False)[0]
    sharded_adam = train(training.dcgan_optimizer(), 3, True)[0]
    own_rows_adam = train(training.dcgan_optimizer(), 3, False, rows=8)[0]
    share = lambda a, b: float(np.mean(np.abs(a - b) > 1e-5))
    program = training.train_step.lower(d_copy, g_copy, sharded_real, key_copy).compile().as_text()
    print(json.dumps({"devices": len(jax.devices()),
                      "sgd": {"sharded": float(np.max(np.abs(sharded_sgd - single_sgd))),
                              "own_rows": float(np.max(np.abs(own_rows_sgd - single_sgd)))},
                      "adam_share": {"sharded": share(sharded_adam, single_adam),
                                     "own_rows": share(own_rows_adam, single_adam)},
                      "shard_rows": [shard.data.shape[0] for shard in sharded_real.addressable_shards],
                      "all_reduces": parallel.count_all_reduces(program),
                      "output_devices": len(d_copy.params["output"]["kernel"][...].devices())}))
""")


@pytest.fixture(scope="module")
def four_device_run():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_batch_is_split_over_four_devices(four_device_run):
    assert four_device_run["devices"] == 4 and four_device_run["shard_rows"] == [8, 8, 8, 8]


def test_sharded_step_equals_the_single_device_step_and_a_step_without_averaging_does_not(four_device_run):
    sgd, adam_share = four_device_run["sgd"], four_device_run["adam_share"]
    # SGD moves each parameter by 0.1 × its gradient: only the reduction order's rounding can differ
    assert sgd["sharded"] < 1e-5 and sgd["own_rows"] > 1e-3  # one device's rows alone: a different step
    # Adam turns a gradient that is 0 up to rounding (D's conv bias before BatchNorm) into a full ±lr step, so
    # count the values that differ after 3 steps: a few for the sharded step, most without the averaging
    assert adam_share["sharded"] < 0.01 and adam_share["own_rows"] > 0.5


def test_the_compiler_averages_gradients_across_devices(four_device_run):
    assert four_device_run["all_reduces"] > 0 and four_device_run["output_devices"] == 4


def test_mesh_and_sharding_refuse_what_cannot_work():
    with pytest.raises(ValueError, match="jax_num_cpu_devices"):
        parallel.data_parallel_mesh(len(jax.devices()) + 1)
    mesh = parallel.data_parallel_mesh(1)
    one_device = parallel.shard_batch(np.zeros((3, 2)), mesh)
    assert one_device.shape == (3, 2) and len(one_device.addressable_shards) == 1
    # a mesh of one device holds slice(None) for the rows, not 0..3: read it with slice.indices
    assert one_device.addressable_shards[0].index[0].indices(3)[:2] == (0, 3)
    assert parallel.count_all_reduces("a = all-reduce(b)\nc = add(a)\nd = all-reduce(c), e = all-reduce(f)") == 3
    gpu_style = "s = all-reduce-start(b)\nd = all-reduce-done(s)\nt = all-reduce-start(c)\nu = all-reduce-done(t)"
    assert parallel.count_all_reduces(gpu_style) == 2  # XLA:GPU's asynchronous pairs, each counted once
