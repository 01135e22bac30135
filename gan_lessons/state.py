"""A network's training state, its optimisers, and running its model as a pure function.

``TrainState`` holds everything one network needs to train (the model's structure, parameters, BatchNorm
statistics, optimiser state) as a pytree, so jitted steps take and return it. The GAN's players use it, and so
do the course's classifier and VAE.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from gan_lessons.checks import check_images


class TrainState(struct.PyTreeNode):
    """Everything one network needs to train (a GAN's player, the classifier, the VAE), as a pytree of arrays."""

    graphdef: Any = struct.field(pytree_node=False)
    optimizer: optax.GradientTransformation = struct.field(pytree_node=False)
    params: Any
    batch_stats: Any  # everything that is not a parameter: BatchNorm's running mean and variance
    opt_state: Any
    step: jax.Array

    @classmethod
    def create(cls, model: nnx.Module, optimizer: optax.GradientTransformation) -> TrainState:
        graphdef, params, batch_stats = nnx.split(model, nnx.Param, ...)
        return cls(graphdef, optimizer, params, batch_stats, optimizer.init(params), jnp.zeros((), jnp.int32))

    def model(self, train: bool = False) -> nnx.Module:
        """A live Flax module with a copy of this state's weights, in training or evaluation mode.

        A copy, because some layers write to their variables when called (``nnx.SpectralNorm`` stores
        the normalised weight in place), and the state must not change behind the caller's back.
        """
        model = nnx.merge(self.graphdef, self.params, self.batch_stats, copy=True)
        model.train() if train else model.eval()
        return model


@functools.cache
def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999):
    """``optax.adam``, cached: the optimiser is a static part of ``TrainState`` (and of jitted steps), so
    handing every new model the same object for the same settings lets jitted steps reuse their compiled
    code instead of compiling again."""
    return optax.adam(learning_rate, b1=b1, b2=b2)


def dcgan_optimizer(learning_rate=2e-4, b1=0.5):
    """Adam with DCGAN's settings (Radford et al. 2015: lr 2e-4, β1 = 0.5), cached (see ``adam``)."""
    return adam(learning_rate, b1)


class AveragedState(NamedTuple):
    inner: Any  # the wrapped optimiser's state
    average: Any  # the exponential moving average of the parameters after each update


@functools.cache
def with_average(inner: optax.GradientTransformation, decay: float) -> optax.GradientTransformation:
    """``inner``, also keeping average ← decay · average + (1 − decay) · (the parameters after the update) in its
    state (``opt_state.average``): an EMA of G's weights, judged in place of its last ones. The average starts
    at the initial weights and is not bias-corrected, so it needs many more than 1 / (1 − decay) updates to
    forget them. Cached on ``inner``'s identity and ``decay`` (see ``adam``)."""
    def init(params):
        return AveragedState(inner.init(params), params)

    def update(updates, state, params):
        updates, inner_state = inner.update(updates, state.inner, params)
        new_params = optax.apply_updates(params, updates)
        return updates, AveragedState(inner_state, optax.incremental_update(new_params, state.average, 1 - decay))

    return optax.GradientTransformation(init, update)


def apply_model(state: TrainState, params, batch_stats, inputs, train: bool):
    """Run the state's model as a pure function; return outputs and updated BatchNorm statistics.

    ``inputs``: one array, or a tuple of arguments for models that take several (a conditional
    model's ``(z, labels)`` or ``(images, labels)``).
    """
    # copy=True: fresh Variables at this trace level, so BatchNorm may update them inside jax.grad
    model = nnx.merge(state.graphdef, params, batch_stats, copy=True)
    model.train() if train else model.eval()  # BatchNorm: batch statistics vs running averages
    outputs = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
    _, _, new_batch_stats = nnx.split(model, nnx.Param, ...)
    return outputs, new_batch_stats


def in_batches(function, images, batch_size: int = 1000):
    """``function`` (a jitted map of a batch to an array or a tuple of arrays) over ``images`` in batches,
    the results joined along the first axis as numpy: whole datasets without holding every activation at once."""
    check_images(images, "images")
    parts = [jax.device_get(function(images[start:start + batch_size])) for start in range(0, len(images), batch_size)]
    return jax.tree.map(lambda *pieces: np.concatenate(pieces), *parts)


def latent_dim(state: TrainState) -> int:
    return nnx.merge(state.graphdef, state.params, state.batch_stats).latent_dim


def sample_latent(key: jax.Array, count: int, dim: int) -> jax.Array:
    """z ~ N(0, I): (count, dim)."""
    return jax.random.normal(key, (count, dim))


def apply_gradients(state: TrainState, grads, batch_stats) -> TrainState:
    """One optimiser step on ``grads``; store the new BatchNorm statistics; count the step."""
    updates, opt_state = state.optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state.replace(params=params, batch_stats=batch_stats, opt_state=opt_state, step=state.step + 1)
