"""The plain GAN and its recipes: the objectives, the penalties, the jitted steps and ``train``.

Each player has its own ``TrainState`` (``gan_lessons.state``). ``d_step`` takes both states and returns
only a new discriminator state; ``g_step`` returns only a new generator state, so each player's gradient can
only ever reach its own parameters. Both are ``gan_lessons.steps``' one GAN update, given this variant's
losses (an ``Objective``); the conditional GAN, InfoGAN, ClusterGAN and BiGAN give it theirs.

Hot loops use ``nnx.split`` + ``jax.jit`` on plain pytrees, as Flax's
performance guide advises (``nnx.jit`` re-walks the object graph on every call);
``compiling.jit`` is ``jax.jit`` with the XLA:CPU setting that makes convolutions faster.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax import lax

from gan_lessons import losses
from gan_lessons.checks import check_image_shape, check_image_values, check_latent
from gan_lessons.compiling import jit
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
from gan_lessons.steps import discriminator_step, generator_step, logit_metrics


@dataclass(frozen=True)
class Objective:
    """What each player minimises, and how D is kept in check: one GAN "recipe".

    ``discriminator_loss`` / ``generator_loss`` name entries of ``losses.DISCRIMINATOR_LOSSES`` /
    ``losses.GENERATOR_LOSSES``. ``r1_weight`` γ adds γ·R1 to D's loss (``r1_penalty``);
    ``gradient_penalty_weight`` λ adds WGAN-GP's λ·GP (``gradient_penalty``); ``clip_value`` c clips
    every D parameter to [−c, c] after each update (the original WGAN); ``critic_steps`` n makes n D
    updates, each on its own real batch, per G update. Hashable, so jitted steps take it as static.
    """

    discriminator_loss: str = "cross_entropy"
    generator_loss: str = "non_saturating"
    r1_weight: float = 0.0
    gradient_penalty_weight: float = 0.0
    clip_value: float = 0.0
    critic_steps: int = 1

    def __post_init__(self):
        if self.discriminator_loss not in losses.DISCRIMINATOR_LOSSES:
            raise ValueError(f"discriminator_loss must be one of {sorted(losses.DISCRIMINATOR_LOSSES)}, "
                             f"got {self.discriminator_loss!r}")
        if self.generator_loss not in losses.GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {sorted(losses.GENERATOR_LOSSES)}, "
                             f"got {self.generator_loss!r}")
        if self.critic_steps < 1:
            raise ValueError(f"critic_steps must be at least 1, got {self.critic_steps}")


NON_SATURATING = Objective()

# The eight recipes chapter 06 compares. Spectral normalisation changes D's layers, not the
# objective: it is the non-saturating objective with ``make_dcgan(..., discriminator_norm="spectral")``.
OBJECTIVES = {
    "minimax (saturating)": Objective(generator_loss="saturating"),
    "non-saturating": NON_SATURATING,
    "least squares": Objective("least_squares", "least_squares"),
    "hinge": Objective("hinge", "linear"),
    "WGAN, weight clipping": Objective("wasserstein", "linear", clip_value=0.01, critic_steps=5),
    "WGAN-GP": Objective("wasserstein", "linear", gradient_penalty_weight=10.0, critic_steps=5),
    "spectral norm": NON_SATURATING,
    "R1": Objective(r1_weight=1.0),
}


@functools.cache
def recipe_optimizer(recipe: str, learning_rate: float, cosine_steps: int = 0) -> optax.GradientTransformation:
    """The optimiser chapter 06 gives each recipe of ``OBJECTIVES``.

    Adam with β1 = 0.5 (DCGAN), except where the recipe's paper prescribes another: RMSProp for
    weight clipping (Arjovsky et al. 2017: Adam made clipped critics unstable), Adam with β1 = 0 and
    β2 = 0.9 for WGAN-GP (Gulrajani et al. 2017). ``cosine_steps`` > 0: the rate follows a cosine from
    ``learning_rate`` down to 5 % of it over that many updates. Cached like ``adam``, so a chapter run
    again hands its models the same optimisers and reuses the compiled steps.
    """
    if recipe not in OBJECTIVES:
        raise ValueError(f"recipe must be one of {sorted(OBJECTIVES)}, got {recipe!r}")
    rate = optax.cosine_decay_schedule(learning_rate, cosine_steps, alpha=0.05) if cosine_steps else learning_rate
    if recipe == "WGAN, weight clipping":
        return optax.rmsprop(rate)
    if recipe == "WGAN-GP":
        return adam(rate, b1=0.0, b2=0.9)
    return dcgan_optimizer(rate)


def r1_penalty(d_state: TrainState, params, batch_stats, real, labels=None):
    """R1 (Mescheder et al. 2018): (1/2) E_x~data ‖∇_x D_logit(x)‖², the slope of D's logit on real data.

    Penalising it keeps D from building cliffs around the data that fling fakes from mode to mode.
    ``labels``: for a conditional D, the slope of D(x, y) in x with the labels held fixed.
    """
    slopes = _input_gradients(d_state, params, batch_stats, real, labels)
    return 0.5 * jnp.mean(jnp.sum(slopes ** 2, axis=1))


def gradient_penalty(d_state: TrainState, params, batch_stats, real, fake, key):
    """WGAN-GP (Gulrajani et al. 2017): E_x̂[(‖∇_x̂ ℓ(x̂)‖₂ − 1)²], x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1].

    A soft version of "the critic is 1-Lipschitz", checked on random points between real and fake pairs.
    """
    epsilon = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))
    between = epsilon * real + (1.0 - epsilon) * fake
    slopes = _input_gradients(d_state, params, batch_stats, between)
    norms = jnp.sqrt(jnp.sum(slopes ** 2, axis=1) + 1e-12)  # + tiny: the gradient of √ at 0 is inf
    return jnp.mean((norms - 1.0) ** 2)


def _input_gradients(d_state, params, batch_stats, inputs, labels=None):
    """∇_x ℓ(x) (or ∇_x ℓ(x, y) for a conditional D) for each example, flattened: (B, features)."""
    def summed_logits(x):
        return jnp.sum(apply_model(d_state, params, batch_stats, x if labels is None else (x, labels), train=True)[0])

    slopes = jax.grad(summed_logits)(inputs)  # (B, ...): each example's logit depends only on itself
    return slopes.reshape(inputs.shape[0], -1)


def _d_step(d_state, g_state, real, key, objective=NON_SATURATING):
    z = sample_latent(key, real.shape[0], latent_dim(g_state))
    penalty_key = jax.random.fold_in(key, 1)  # its own stream; z keeps using ``key`` as it always has
    fake, _ = apply_model(g_state, g_state.params, g_state.batch_stats, z, train=True)
    fake = lax.stop_gradient(fake)  # D's loss must not reach G's parameters

    def d_loss(params, stats, real_logits, fake_logits):
        loss = losses.DISCRIMINATOR_LOSSES[objective.discriminator_loss](real_logits, fake_logits)
        # the weights are static Python floats: a penalty is traced only when asked for
        if objective.r1_weight:
            loss = loss + objective.r1_weight * r1_penalty(d_state, params, d_state.batch_stats, real)
        if objective.gradient_penalty_weight:
            loss = loss + objective.gradient_penalty_weight * gradient_penalty(
                d_state, params, d_state.batch_stats, real, fake, penalty_key)
        scores = {"real_score": jnp.mean(real_logits), "fake_score": jnp.mean(fake_logits)}  # ℓ, as critics report
        return loss, stats, {**logit_metrics(real_logits, fake_logits), **scores}

    d_state, metrics = discriminator_step(d_state, real, fake, d_loss)
    if objective.clip_value:
        clip = objective.clip_value
        d_state = d_state.replace(params=jax.tree.map(lambda p: jnp.clip(p, -clip, clip), d_state.params))
    return d_state, metrics


def _g_step(g_state, d_state, batch_size, key, objective=NON_SATURATING):
    z = sample_latent(key, batch_size, latent_dim(g_state))

    def g_loss(params):
        fake, stats = apply_model(g_state, params[0], g_state.batch_stats, z, train=True)
        # D in training mode as in its own step; its updated statistics are thrown away
        fake_logits, _ = apply_model(d_state, d_state.params, d_state.batch_stats, fake, train=True)
        return losses.GENERATOR_LOSSES[objective.generator_loss](fake_logits), ((stats,), {})

    (g_state,), metrics = generator_step((g_state,), g_loss)
    return g_state, metrics


@partial(jit, static_argnames=("objective",))
def d_step(d_state: TrainState, g_state: TrainState, real: jax.Array, key: jax.Array,
           objective: Objective = NON_SATURATING):
    """One discriminator update on a real batch and as many fresh fakes; returns (d_state, metrics)."""
    return _d_step(d_state, g_state, real, key, objective)


@partial(jit, static_argnames=("batch_size", "objective"))
def g_step(g_state, d_state, batch_size: int, key, objective: Objective = NON_SATURATING):
    """One generator update on ``batch_size`` fresh fakes; returns (g_state, metrics)."""
    return _g_step(g_state, d_state, batch_size, key, objective)


def _train_step(d_state, g_state, real, key, objective=NON_SATURATING):
    d_key, g_key = jax.random.split(key)
    if objective.critic_steps == 1:
        d_state, d_metrics = _d_step(d_state, g_state, real, d_key, objective)
    else:  # real: (critic_steps, B, ...), one batch per critic update
        for critic_key, critic_real in zip(jax.random.split(d_key, objective.critic_steps), real):
            d_state, d_metrics = _d_step(d_state, g_state, critic_real, critic_key, objective)
    batch_size = real.shape[1] if objective.critic_steps > 1 else real.shape[0]
    g_state, g_metrics = _g_step(g_state, d_state, batch_size, g_key, objective)
    return d_state, g_state, {**d_metrics, **g_metrics}


train_step = jit(_train_step, static_argnames=("objective",))
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
        d_state, g_state, metrics = _train_step(*carry, real, step_key, objective)
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
