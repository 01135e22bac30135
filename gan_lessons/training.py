"""Training the plain GAN: its jitted steps, the recipes' optimisers, ``train``, and G and D at inference.

The update itself is ``gan_lessons.steps`` (``plain_train_step``: one D step, then one G step), its losses,
penalties and recipes (``Objective``) are ``gan_lessons.losses``, the loop that runs it is
``gan_lessons.running``; this module jits the step and hands it batches. ``d_step`` takes both states and
returns only a new discriminator state; ``g_step`` returns only a new generator state, so each player's
gradient can only ever reach its own parameters.

Hot loops use ``nnx.split`` + ``jax.jit`` on plain pytrees, as Flax's
performance guide advises (``nnx.jit`` re-walks the object graph on every call);
``compiling.jit`` is ``jax.jit`` with the XLA:CPU setting that makes convolutions faster.
"""
from __future__ import annotations

import functools
from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax import lax

from gan_lessons import losses
from gan_lessons.checks import check_image_shape, check_image_values, check_latent
from gan_lessons.compiling import jit
from gan_lessons.losses import NON_SATURATING
from gan_lessons.losses import OBJECTIVES as OBJECTIVES  # the recipes, as the chapters know them
from gan_lessons.losses import Objective as Objective
from gan_lessons.models import ConvTranspose
from gan_lessons.running import Checkpointing, run_steps
from gan_lessons.state import TrainState as TrainState  # the chapters and tests use training.TrainState & co.
from gan_lessons.state import adam as adam
from gan_lessons.state import apply_gradients as apply_gradients
from gan_lessons.state import apply_model as apply_model
from gan_lessons.state import dcgan_optimizer as dcgan_optimizer
from gan_lessons.state import in_batches as in_batches
from gan_lessons.state import latent_dim as latent_dim
from gan_lessons.state import sample_latent as sample_latent
from gan_lessons.steps import plain_d_step, plain_g_step, plain_train_step


@functools.cache
def recipe_optimizer(objective: Objective, learning_rate: float, cosine_steps: int = 0) -> optax.GradientTransformation:
    """The optimiser chapter 06 gives a recipe (an ``Objective``, e.g. one of ``OBJECTIVES``).

    Adam with β1 = 0.5 (DCGAN), except where the recipe's paper prescribes another: RMSProp for a weight-clipped
    critic (Arjovsky et al. 2017: Adam made clipped critics unstable), Adam with β1 = 0 and β2 = 0.9 with a
    gradient penalty (WGAN-GP, Gulrajani et al. 2017). ``cosine_steps`` > 0: the rate follows a cosine from
    ``learning_rate`` down to 5 % of it over that many updates. Cached like ``adam``, so a chapter run
    again hands its models the same optimisers and reuses the compiled steps.
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"pass the recipe's Objective (e.g. training.OBJECTIVES['hinge']), got {objective!r}")
    rate = optax.cosine_decay_schedule(learning_rate, cosine_steps, alpha=0.05) if cosine_steps else learning_rate
    if objective.clip_value:
        return optax.rmsprop(rate)
    if objective.gradient_penalty_weight:
        return adam(rate, b1=0.0, b2=0.9)
    return dcgan_optimizer(rate)


@partial(jit, static_argnames=("objective",))
def d_step(d_state: TrainState, g_state: TrainState, real: jax.Array, key: jax.Array,
           objective: Objective = NON_SATURATING):
    """One discriminator update on a real batch and as many fresh fakes; returns (d_state, metrics)."""
    return plain_d_step(d_state, g_state, real, key, objective)


@partial(jit, static_argnames=("batch_size", "objective"))
def g_step(g_state, d_state, batch_size: int, key, objective: Objective = NON_SATURATING):
    """One generator update on ``batch_size`` fresh fakes; returns (g_state, metrics)."""
    return plain_g_step(g_state, d_state, batch_size, key, objective)


train_step = jit(plain_train_step, static_argnames=("objective",))
train_step.__doc__ = """One round: ``objective.critic_steps`` D updates, then one G update.

(d_state, g_state, real, key, objective) → (d_state, g_state, metrics). With more than one critic
step, ``real`` is (critic_steps, B, ...): a fresh real batch for each D update.
"""


@partial(jit, static_argnames=("objective", "unroll"))
def train_scan(d_state, g_state, real_batches, step_keys, objective=NON_SATURATING, unroll=1):
    """``len(real_batches)`` training rounds fused into one XLA program by ``lax.scan``.

    The bare fused scan, without ``running.run_steps``'s divergence guard (``train`` runs the guarded
    one): the benchmarks measure the guard's cost against it.

    ``step_keys`` holds one key per round, so the scan and the Python loop consume
    the same randomness and reach the same result. ``unroll``: rounds per loop
    iteration in the compiled program (``len(real_batches)``: no loop at all).
    """

    def body(carry, inputs):
        real, step_key = inputs
        d_state, g_state, metrics = plain_train_step(*carry, real, step_key, objective)
        return (d_state, g_state), metrics

    (d_state, g_state), metrics = lax.scan(body, (d_state, g_state), (real_batches, step_keys), unroll=unroll)
    return d_state, g_state, metrics


def has_convolutions(state: TrainState) -> bool:
    model = nnx.merge(state.graphdef, state.params, state.batch_stats)
    return any(isinstance(node, (nnx.Conv, ConvTranspose)) for _, node in nnx.iter_graph(model))


def choose_runner(d_state: TrainState, g_state: TrainState) -> str:
    """'scan' for dense models and on a GPU or TPU; 'loop' for convolutional models on a CPU.

    Measured on a 2-core CPU (benchmarks/): a fused ``lax.scan`` is faster for
    MLPs, but XLA:CPU runs convolution gradients inside a rolled loop with a
    naive kernel, tens of times slower (jax-ml/jax#12868), so convolutional
    models use a Python loop over the jitted ``train_step`` there. That is
    XLA:CPU's weakness: on a GPU the scan saves a dispatch per step.
    """
    if jax.default_backend() != "cpu":
        return "scan"
    return "loop" if has_convolutions(d_state) or has_convolutions(g_state) else "scan"


def sample_shape(g_state: TrainState) -> tuple:
    """The shape of one of G's samples, e.g. (28, 28, 1), found by tracing G (nothing is computed)."""
    z = jax.ShapeDtypeStruct((1, latent_dim(g_state)), jnp.float32)
    return jax.eval_shape(lambda z: apply_model(g_state, g_state.params, g_state.batch_stats, z, False)[0], z).shape[1:]


def check_real_batches(g_state: TrainState, real_batches, name: str = "real_batches"):
    """Real batches must be shaped (steps, batch, *G's sample shape); images must be in [−1, 1] like G's."""
    item_shape = sample_shape(g_state)
    check_image_shape(real_batches, name, item_shape, leading_axes=2)
    if len(item_shape) == 3:  # images; 2-D points may have any range
        check_image_values(real_batches, name)


def train(d_state, g_state, real_batches, key, objective: Objective = NON_SATURATING, runner="auto",
          chunk_steps=100, progress=True, description="training", checkpointing: Checkpointing | None = None):
    """Train on ``real_batches`` (one batch per D update); returns (d_state, g_state, metrics as numpy arrays).

    ``real_batches``: (d_updates, batch, ...). With ``objective.critic_steps`` = n, each round makes n D
    updates and one G update, so there are d_updates / n rounds (and metric entries): every recipe
    sees the same data for the same ``real_batches``. ``runner``: 'auto', 'scan' or 'loop'.
    The scan runner fuses ``chunk_steps`` rounds per call so the progress bar still moves.
    Divergence stops training with ``TrainingDiverged``; ``checkpointing`` saves progress and resumes
    (``run_steps``).
    """
    runner = choose_runner(d_state, g_state) if runner == "auto" else runner
    if runner not in ("scan", "loop"):
        raise ValueError(f"runner must be 'auto', 'scan' or 'loop', got {runner!r}")
    if len(real_batches) == 0:
        raise ValueError("real_batches is empty: pass (steps, batch, ...) with at least one step")
    check_real_batches(g_state, real_batches)
    critic_steps = objective.critic_steps
    if len(real_batches) % critic_steps:
        raise ValueError(f"{len(real_batches)} real batches do not split into rounds of {critic_steps} critic "
                         f"steps: pass a multiple of {critic_steps}")
    if critic_steps > 1:
        real_batches = real_batches.reshape(-1, critic_steps, *real_batches.shape[1:])  # (rounds, n, B, ...)
    step_keys = jax.random.split(key, len(real_batches))
    states, metrics = run_steps(train_step, {"discriminator": d_state, "generator": g_state}, real_batches,
                                step_keys, static={"objective": objective}, description=description,
                                progress=progress, scan_chunk=chunk_steps if runner == "scan" else 0,
                                checkpointing=checkpointing)
    return states["discriminator"], states["generator"], metrics


def generate(g_state: TrainState, z: jax.Array) -> jax.Array:
    """G(z) in evaluation mode (BatchNorm uses its running averages). ``z``: (batch, latent_dim)."""
    check_latent(z, latent_dim(g_state))
    return _generate(g_state, z)


@jit
def _generate(g_state: TrainState, z: jax.Array) -> jax.Array:
    return apply_model(g_state, g_state.params, g_state.batch_stats, z, train=False)[0]


@jit
def discriminate(d_state: TrainState, x: jax.Array) -> jax.Array:
    """D's logits for x in evaluation mode."""
    return apply_model(d_state, d_state.params, d_state.batch_stats, x, train=False)[0]


@partial(jit, static_argnames=("generator_loss",))
def generator_gradient_field(d_state: TrainState, fake: jax.Array, generator_loss: str = "non_saturating"):
    """−∇_x L_G at each fake point x: the direction the generator's loss pushes it (D in evaluation mode).

    For the non-saturating loss L_G = −log D(x), this is ∇_x log D(x).
    """
    def loss(x):
        return losses.GENERATOR_LOSSES[generator_loss](discriminate(d_state, x[None]))

    return -jax.vmap(jax.grad(loss))(fake)
