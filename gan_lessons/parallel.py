"""Data parallelism with ``jax.sharding``: one training step, many devices, the same result.

The recipe has three lines. Make a device mesh with one axis, "batch". Split each real batch along it.
Replicate both players' states on every device. The jitted step is unchanged: XLA follows the data,
runs D's pass over each device's share of the real batch, and inserts the all-reduces that combine the
shares (the mean in D's loss, so D's gradient, and BatchNorm's batch statistics). The fakes are not split:
the training step draws z from a key copied to every device, so each device does G's work, and D's on the
fakes, for the whole batch (chapter 11 checks where G's first layer runs in the compiled program). The same
code runs on host CPU devices, several GPUs or a TPU slice.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

BATCH_AXIS = "batch"


def data_parallel_mesh(device_count: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``device_count`` devices (all by default), its axis named "batch"."""
    devices = jax.devices()
    count = len(devices) if device_count is None else device_count
    if not 1 <= count <= len(devices):
        raise ValueError(f"device_count must be between 1 and the {len(devices)} devices JAX sees, got {count}. "
                         "On a CPU, ask for more host devices before JAX starts: "
                         "jax.config.update('jax_num_cpu_devices', N)")
    return Mesh(np.array(devices[:count]), (BATCH_AXIS,))


def shard_batch(batch, mesh: Mesh):
    """Split arrays along their first axis over the mesh: each device holds batch_size / devices rows."""
    size = mesh.devices.size
    for leaf in jax.tree.leaves(batch):
        if leaf.shape[0] % size:
            raise ValueError(f"a batch of {leaf.shape[0]} does not split over {size} devices: "
                             f"use a batch size that is a multiple of {size}")
    return jax.device_put(batch, NamedSharding(mesh, P(BATCH_AXIS)))


def replicate(tree, mesh: Mesh):
    """A full copy of every array on every device of the mesh (parameters, optimiser state, keys)."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


def count_all_reduces(compiled_text: str) -> int:
    """How many all-reduce operations a compiled XLA program contains (the gradient averaging).

    XLA:CPU writes ``all-reduce(``; XLA:GPU usually writes the asynchronous pair ``all-reduce-start(`` and
    ``all-reduce-done(``, counted once by its start."""
    return sum(line.count("all-reduce(") + line.count("all-reduce-start(") for line in compiled_text.splitlines())
