"""Data parallelism: the sharded DCGAN step equals the single-device one, and XLA averages the gradients.

JAX fixes its device count when it starts, so the multi-device checks run in a fresh Python process
that asks for four host CPU devices.
"""

import json
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
    from gan_lessons import parallel, training
    from gan_lessons.models import make_dcgan

    import optax

    real = jax.random.uniform(jax.random.key(1), (32, 28, 28, 1), minval=-1, maxval=1)
    step_key = jax.random.key(2)
    mesh = parallel.data_parallel_mesh(4)
    sharded_real = parallel.shard_batch(real, mesh)
    differences = {}
    for name, optimizer in (("sgd", optax.sgd(0.1)), ("adam", training.dcgan_optimizer())):
        generator, discriminator = make_dcgan("cpu", jax.random.key(0))
        d_state = training.PlayerState.create(discriminator, optimizer)
        g_state = training.PlayerState.create(generator, optimizer)
        single = training.train_step(d_state, g_state, real, step_key)
        d_copy, g_copy, key_copy = parallel.replicate((d_state, g_state, step_key), mesh)
        sharded = training.train_step(d_copy, g_copy, sharded_real, key_copy)
        leaves = lambda result: jax.tree.leaves((result[0].params, result[1].params, result[0].batch_stats))
        differences[name] = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(leaves(single), leaves(sharded)))
    program = training.train_step.lower(d_copy, g_copy, sharded_real, key_copy).compile().as_text()
    print(json.dumps({"devices": len(jax.devices()), "differences": differences,
                      "shard_rows": [shard.data.shape[0] for shard in sharded_real.addressable_shards],
                      "all_reduces": parallel.count_all_reduces(program),
                      "output_devices": len(sharded[0].params["output"]["kernel"][...].devices())}))
""")


@pytest.fixture(scope="module")
def four_device_run():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_batch_is_split_over_four_devices(four_device_run):
    assert four_device_run["devices"] == 4 and four_device_run["shard_rows"] == [8, 8, 8, 8]


def test_sharded_step_equals_the_single_device_step(four_device_run):
    # SGD moves each parameter by 0.1 × its gradient: only the reduction order's rounding can differ
    assert four_device_run["differences"]["sgd"] < 1e-5
    # Adam's first step is ≈ lr · sign(g): a gradient that is 0 up to rounding may flip its sign and move its
    # parameter by ± lr, so the two can differ by up to 2 lr = 4e-4, and by no more
    assert four_device_run["differences"]["adam"] <= 2 * 2e-4 + 1e-6


def test_the_compiler_averages_gradients_across_devices(four_device_run):
    assert four_device_run["all_reduces"] > 0 and four_device_run["output_devices"] == 4


def test_mesh_and_sharding_refuse_what_cannot_work():
    with pytest.raises(ValueError, match="jax_num_cpu_devices"):
        parallel.data_parallel_mesh(len(jax.devices()) + 1)
    mesh = parallel.data_parallel_mesh(1)
    assert parallel.shard_batch(np.zeros((3, 2)), mesh).shape == (3, 2)
    assert parallel.count_all_reduces("a = all-reduce(b)\nc = add(a)\nd = all-reduce(c), e = all-reduce(f)") == 3
