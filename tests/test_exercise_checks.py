"""Every build-it exercise's check passes a right answer, written as a student would, and catches a plausible
wrong one with a message that names the mistake. The chapters call these checks; the last test makes sure each
chapter from 03 on has at least two of them and that every check a chapter calls is tested here."""

import functools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import optax
import pytest
import scipy.linalg
from flax import nnx
from scipy.linalg import sqrtm
from scipy.optimize import linear_sum_assignment
from scipy.special import rel_entr
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gan_lessons import exercise_checks as checks
from gan_lessons import losses, metrics, models, training
from gan_lessons.models import CPU, PAPER, DCGANDiscriminator, DCGANGenerator

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def verdict(capsys, check, answer, *args):
    passed = check(answer, *args)
    return passed, capsys.readouterr().out


# ---------------------------------------------------------------- right answers, as a student writes them


def fixed_d_loss(real, fake):
    return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))


def saturating_g_loss(real, fake):
    return -jnp.mean(jax.nn.softplus(fake))


def two_critic_step(d_state, g_state, real_pair, key):
    first_key, second_key, g_key = jax.random.split(key, 3)
    d_state, _ = training.d_step(d_state, g_state, real_pair[0], first_key)
    d_state, _ = training.d_step(d_state, g_state, real_pair[1], second_key)
    g_state, _ = training.g_step(g_state, d_state, real_pair.shape[1], g_key)
    return d_state, g_state


def one_critic_step(d_state, g_state, real_pair, key):
    first_key, _, g_key = jax.random.split(key, 3)
    d_state, _ = training.d_step(d_state, g_state, real_pair[0], first_key)
    return d_state, training.g_step(g_state, d_state, real_pair.shape[1], g_key)[0]


def generator_parameters(config):
    c0, k = config.projection_channels, config.kernel_size
    total = config.latent_dim * 49 * c0 + 2 * 49 * c0
    channels = [c0] + [c for c, _ in config.generator_layers]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        total += k * k * c_in * c_out + (1 if c_out == 1 else 2 * c_out)
    return total


class Generator(nnx.Module):
    def __init__(self, *, rngs, batch_norm=True, output=jnp.tanh):
        self.batch_norm, self.output = batch_norm, output
        self.project = nnx.Linear(100, 7 * 7 * 64, use_bias=not batch_norm, rngs=rngs)
        self.norm0 = nnx.BatchNorm(7 * 7 * 64, rngs=rngs) if batch_norm else None
        self.up1 = nnx.ConvTranspose(64, 32, (4, 4), strides=2, padding="SAME", use_bias=not batch_norm, rngs=rngs)
        self.norm1 = nnx.BatchNorm(32, rngs=rngs) if batch_norm else None
        self.up2 = nnx.ConvTranspose(32, 1, (4, 4), strides=2, padding="SAME", rngs=rngs)

    def __call__(self, z):
        h = self.project(z)
        h = jax.nn.relu(self.norm0(h) if self.batch_norm else h).reshape(-1, 7, 7, 64)
        h = self.up1(h)
        h = jax.nn.relu(self.norm1(h) if self.batch_norm else h)
        return self.output(self.up2(h))


class Discriminator(nnx.Module):
    def __init__(self, *, rngs, first_norm=False, sigmoid=False, second_bias=True):
        self.sigmoid = sigmoid
        self.conv1 = nnx.Conv(1, 16, (4, 4), strides=2, rngs=rngs)
        self.norm1 = nnx.BatchNorm(16, rngs=rngs) if first_norm else None
        self.conv2 = nnx.Conv(16, 32, (4, 4), strides=2, use_bias=second_bias, rngs=rngs)
        self.norm2 = nnx.BatchNorm(32, rngs=rngs)
        self.dense = nnx.Linear(7 * 7 * 32, 1, rngs=rngs)

    def __call__(self, x):
        h = self.conv1(x)
        h = jax.nn.leaky_relu(self.norm1(h) if self.norm1 is not None else h, 0.2)
        h = jax.nn.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        logits = self.dense(h.reshape(x.shape[0], -1))[:, 0]
        return jax.nn.sigmoid(logits) if self.sigmoid else logits


def classifier_score(probabilities):
    marginal = probabilities.mean(axis=0, keepdims=True)
    return np.exp(np.mean(np.sum(rel_entr(probabilities, marginal), axis=1)))


def eigenvalue_trace_root(product):  # Tr(M^½) as the sum of the square roots of M's eigenvalues
    return np.sum(np.sqrt(np.clip(np.linalg.eigvals(product).real, 0, None)))


def frechet_distance(a, b, trace_root=eigenvalue_trace_root):
    covariance_a, covariance_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(covariance_a + covariance_b)
            - 2 * trace_root(covariance_a @ covariance_b))


def frechet_distance_sqrtm(a, b):  # right numbers, by the route exercise 3 asks to do without
    return frechet_distance(a, b, trace_root=lambda product: np.trace(sqrtm(product).real))


def r1_penalty(logit_fn, real):
    slopes = jax.grad(lambda x: jnp.sum(logit_fn(x)))(real)
    return 0.5 * jnp.mean(jnp.sum(slopes.reshape(len(real), -1) ** 2, axis=1))


def slerp(z_start, z_end, steps):
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    omega = jnp.arccos(jnp.dot(z_start, z_end) / (jnp.linalg.norm(z_start) * jnp.linalg.norm(z_end)))
    return (jnp.sin((1 - t) * omega) * z_start + jnp.sin(t * omega) * z_end) / jnp.sin(omega)


def projection_logit(features, labels, weights, embedding):
    return features @ weights + jnp.einsum("bd,bd->b", embedding[labels], features)


def pooled(activation, grid=4):
    batch, height, width, channels = activation.shape
    blocks = activation.reshape(batch, grid, height // grid, grid, width // grid, channels)
    return blocks.max(axis=(2, 4)).reshape(batch, -1)


def linear_probe(train, train_labels, test, test_labels):
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return probe.fit(train, train_labels).score(test, test_labels)


def clustering_accuracy(clusters, labels):
    table = np.zeros((clusters.max() + 1, labels.max() + 1))
    np.add.at(table, (clusters, labels), 1)
    rows, columns = linear_sum_assignment(-table)
    return table[rows, columns].sum() / len(labels)


def information_loss(code_logits, codes):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(code_logits, codes))


def gaussian_kl(mean, log_variance):
    return 0.5 * jnp.sum(mean ** 2 + jnp.exp(log_variance) - 1.0 - log_variance, axis=1)


def reparameterise(mean, log_variance, epsilon):
    return mean + jnp.sqrt(jnp.exp(log_variance)) * epsilon


# ---------------------------------------------------------------- each check: (right answer, wrong answer, words)

CASES = {
    "check_fixed_d_loss": (fixed_d_loss, lambda real, fake: fixed_d_loss(fake, real), "swapped"),
    "check_saturating_g_loss": (saturating_g_loss, lambda real, fake: jnp.mean(jax.nn.softplus(-fake)),
                                "non-saturating"),
    "check_two_critic_step": (two_critic_step, one_critic_step, "D took one step"),
    "check_generator_parameters": (generator_parameters,
                                   lambda config: generator_parameters(config) - 2 * 49 * config.projection_channels
                                   - 2 * sum(c for c, _ in config.generator_layers[:-1]), "without BatchNorm"),
    "check_dcgan_generator": (Generator, lambda *, rngs: Generator(rngs=rngs, batch_norm=False), "no BatchNorm"),
    "check_dcgan_discriminator": (Discriminator, lambda *, rngs: Discriminator(rngs=rngs, first_norm=True),
                                  "BatchNorm on the first layer"),
    "check_classifier_score": (classifier_score, lambda p: np.exp(-np.mean(np.sum(p * np.log(p), axis=1))),
                               "entropy"),
    "check_frechet_distance": (frechet_distance, checks._frechet_without_root, "square root"),
    "check_d_loss_hinge": (lambda real, fake: jnp.mean(jax.nn.relu(1 - real)) + jnp.mean(jax.nn.relu(1 + fake)),
                           lambda real, fake: jnp.mean(fake) - jnp.mean(real), "Wasserstein"),
    "check_g_loss_least_squares": (lambda fake: 0.5 * jnp.mean((fake - 1) ** 2), lambda fake: jnp.mean((fake - 1) ** 2),
                                   "without the ½"),
    "check_r1_penalty": (r1_penalty, lambda f, x: 0.5 * jnp.mean(jnp.sum(jax.grad(
        lambda y: jnp.mean(f(y)))(x).reshape(len(x), -1) ** 2, axis=1)), "mean* logit"),
    "check_slerp": (slerp, lambda a, b, steps: a + jnp.linspace(0, 1, steps)[:, None] * (b - a), "straight line"),
    "check_label_maps": (lambda labels: jnp.broadcast_to(jax.nn.one_hot(labels, 10)[:, None, None],
                                                         (len(labels), 28, 28, 10)),
                         lambda labels: jnp.broadcast_to(jax.nn.one_hot(labels, 10)[:, :, None, None],
                                                         (len(labels), 10, 28, 28)), "wrong axis"),
    "check_projection_logit": (projection_logit, lambda f, y, w, e: f @ w, "label's term"),
    "check_pooled": (pooled, lambda a, grid=4: a.reshape(len(a), grid, a.shape[1] // grid, grid, a.shape[2] // grid,
                                                         -1).mean(axis=(2, 4)).reshape(len(a), -1), "average pooling"),
    "check_linear_probe": (linear_probe, lambda train, labels, *_: linear_probe(train, labels, train, labels),
                           "training features"),
    "check_clustering_accuracy": (clustering_accuracy, lambda clusters, labels: np.mean(clusters == labels),
                                  "without matching"),
    "check_information_loss": (information_loss, lambda logits, codes: -jnp.mean(
        jnp.take_along_axis(logits, codes[:, None], axis=1)), "log_softmax"),
    "check_gaussian_kl": (gaussian_kl, lambda mean, lv: jnp.sum(gaussian_kl(mean, lv)), "reduced over every axis"),
    "check_reparameterise": (reparameterise, lambda mean, lv, eps: mean + jnp.exp(lv) * eps, "standard deviation"),
}
NEEDS_A_MESH = {"check_global_moments", "check_parallel_gradient"}  # tested on four CPU devices, below


@pytest.mark.parametrize("check_name", sorted(CASES))
def test_a_check_passes_the_right_answer_and_names_the_wrong_one(capsys, check_name):
    check = getattr(checks, check_name)
    right, wrong, words = CASES[check_name]
    passed, said = verdict(capsys, check, right)
    assert passed, said
    passed, said = verdict(capsys, check, wrong)
    assert not passed and words in said, said
    passed, said = verdict(capsys, check, None)
    assert not passed and "not attempted yet" in said


def test_chapter_06_loss_checks_refuse_the_library_reached_through_its_tables_or_d_s_loss(capsys):
    answers = {checks.check_d_loss_hinge: [lambda real, fake: losses.DISCRIMINATOR_LOSSES["hinge"](real, fake)],
               checks.check_g_loss_least_squares: [lambda fake: losses.GENERATOR_LOSSES["least_squares"](fake),
                                                   lambda fake: losses.d_loss_least_squares(fake, 0 * fake)]}
    for check, answer in [(check, answer) for check, wrong in answers.items() for answer in wrong]:
        passed, said = verdict(capsys, check, answer)
        assert not passed and "which this check withholds" in said, said


def test_the_frechet_check_refuses_a_matrix_square_root_and_the_library_s_formula(capsys):
    through_module = lambda a, b: frechet_distance_sqrtm(a, b) + 0 * scipy.linalg.sqrtm(np.eye(2)).real.sum()
    for answer in (frechet_distance_sqrtm, through_module):
        passed, said = verdict(capsys, checks.check_frechet_distance, answer)
        assert not passed and "not accepted yet" in said and "scipy.linalg.sqrtm" in said, said
    library = lambda a, b: metrics.gaussian_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                                             np.cov(b, rowvar=False))
    passed, said = verdict(capsys, checks.check_frechet_distance, library)
    assert not passed and "which this check withholds" in said, said
    assert scipy.linalg.sqrtm is sqrtm and sqrtm.__name__ == "sqrtm"  # put back afterwards


def test_the_pooling_check_passes_the_grid_and_uses_maps_taller_than_wide(capsys):
    def without_default(activation, grid):  # the signature the exercise asks for
        return pooled(activation, grid)

    assert verdict(capsys, checks.check_pooled, without_default)[0]
    for wrong in (lambda activation, grid=4: pooled(activation, 4),  # the grid ignored
                  lambda activation, grid=4: pooled(jnp.swapaxes(activation, 1, 2), grid)):  # height and width swapped
        passed, said = verdict(capsys, checks.check_pooled, wrong)
        assert not passed and ("shape" in said or "differs" in said), said


def test_chapter_04_checks_accept_a_redundant_bias_left_out_and_refuse_a_lookup_of_the_shipped_counts(capsys):
    passed, said = verdict(capsys, checks.check_dcgan_discriminator,
                           lambda *, rngs: Discriminator(rngs=rngs, second_bias=False))
    assert passed and "without conv2's bias" in said, said
    lookup = {"cpu": generator_parameters(CPU), "paper": generator_parameters(PAPER)}
    passed, said = verdict(capsys, checks.check_generator_parameters, lambda config: lookup.get(config.name, 0))
    assert not passed and "input 3" in said, said
    passed, said = verdict(capsys, checks.check_generator_parameters,
                           lambda config: models.count_parameters(DCGANGenerator(config, rngs=nnx.Rngs(0))))
    assert not passed and "which this check withholds" in said, said


def test_model_checks_name_other_common_mistakes(capsys):
    for answer, words in ((lambda *, rngs: Generator(rngs=rngs, output=jax.nn.sigmoid), "sigmoid instead of tanh"),
                          (lambda *, rngs: Generator(rngs=rngs, output=lambda x: x), "outside [−1, 1]"),
                          (lambda *, rngs: DCGANGenerator(PAPER, rngs=rngs), "parameters")):
        passed, said = verdict(capsys, checks.check_dcgan_generator, answer)
        assert not passed and words in said, said
    sigmoid_output = lambda *, rngs: Discriminator(rngs=rngs, sigmoid=True)  # noqa: E731
    passed, said = verdict(capsys, checks.check_dcgan_discriminator, sigmoid_output)
    assert not passed and "probabilities" in said, said
    # the library's own layers (a custom transposed convolution, the CPU kernels) pass as well
    assert verdict(capsys, checks.check_dcgan_generator, lambda *, rngs: DCGANGenerator(CPU, rngs=rngs))[0]
    assert verdict(capsys, checks.check_dcgan_discriminator, lambda *, rngs: DCGANDiscriminator(CPU, rngs=rngs))[0]


def test_a_generator_cut_off_from_the_gradient_is_caught(capsys):
    class Frozen(Generator):
        def __call__(self, z):
            return jax.lax.stop_gradient(super().__call__(z))

    passed, said = verdict(capsys, checks.check_dcgan_generator, Frozen)
    assert not passed and "did not lower" in said, said


def test_the_step_check_names_a_g_step_against_the_old_d(capsys):
    def against_old_d(d_state, g_state, real_pair, key):
        first_key, second_key, g_key = jax.random.split(key, 3)
        new_d = training.d_step(training.d_step(d_state, g_state, real_pair[0], first_key)[0], g_state,
                                real_pair[1], second_key)[0]
        return new_d, training.g_step(g_state, d_state, real_pair.shape[1], g_key)[0]

    passed, said = verdict(capsys, checks.check_two_critic_step, against_old_d)
    assert not passed and "before its two steps" in said, said


MESH_SCRIPT = textwrap.dedent("""
    import jax
    jax.config.update("jax_num_cpu_devices", 4)
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P
    from gan_lessons import exercise_checks as checks, parallel
    mesh = parallel.data_parallel_mesh()

    def moments(x, about_global_mean=True):
        def per_device(block):
            mean = jax.lax.pmean(jnp.mean(block, 0), "batch")
            centre = mean if about_global_mean else jnp.mean(block, 0)
            return mean, jax.lax.pmean(jnp.mean((block - centre) ** 2, 0), "batch")
        return jax.shard_map(per_device, mesh=mesh, in_specs=P("batch"), out_specs=(P(), P()))(x)

    def gradient(loss_fn, weights, batch, mesh):
        def per_device(weights, block):
            return jax.grad(lambda w: jax.lax.pmean(loss_fn(w, block), "batch"))(weights)
        return jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P("batch")), out_specs=P())(weights, batch)

    def mean_after_gradient(loss_fn, weights, batch, mesh):  # the natural wrong answer: 4 × too large
        def per_device(weights, block):
            return jax.lax.pmean(jax.grad(loss_fn)(weights, block), "batch")
        return jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P("batch")), out_specs=P())(weights, batch)

    assert checks.check_global_moments(moments, mesh)
    assert not checks.check_global_moments(lambda x: moments(x, about_global_mean=False), mesh)
    assert checks.check_parallel_gradient(gradient, mesh)
    assert not checks.check_parallel_gradient(mean_after_gradient, mesh)
    # the right numbers from one device's formula, without shard_map, are not the exercise
    assert not checks.check_global_moments(lambda x: (jnp.mean(x, 0), jnp.var(x, 0)), mesh)
    assert not checks.check_parallel_gradient(lambda loss_fn, weights, batch, mesh: jax.grad(loss_fn)(weights, batch),
                                              mesh)
    split_only = jax.shard_map(lambda block: block, mesh=mesh, in_specs=P("batch"), out_specs=P("batch"))
    assert not checks.check_global_moments(lambda x: (jnp.mean(split_only(x), 0), jnp.var(split_only(x), 0)), mesh)
""")


def test_the_mesh_checks_pass_the_right_answers_and_name_the_wrong_ones_on_four_devices():
    result = subprocess.run([sys.executable, "-c", MESH_SCRIPT], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout.splitlines()
    assert said[0].endswith("correct on all 3 test inputs.") and "about its own mean" in said[1], said
    assert said[2].endswith("correct on all 2 test inputs.") and "4 × the whole batch's" in said[3], said
    assert "already adds up the devices' parts" in said[3], said
    # an answer with the right numbers but no shard_map gets one verdict, "not accepted yet", never "correct"
    assert len(said) == 7 and not any("correct on all" in line for line in said[4:]), said
    for line in said[4:]:
        assert "not accepted yet. The numbers are right on all" in line, said
        assert "does not run through jax.shard_map with a collective" in line, said


@pytest.mark.course_files
def test_chapters_from_03_on_have_two_checked_build_it_exercises():
    tested = set(CASES) | NEEDS_A_MESH
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        number = int(path.name[:2])
        code = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        called = set(re.findall(r"exercise_checks\.(check_\w+)\((?:my_|My)", code))
        assert called <= tested, f"{path.name}: checks without a wrong-answer test here: {called - tested}"
        if number >= 3:
            assert len(called) >= 2, f"{path.name} has {len(called)} build-it exercises checked by exercise_checks"


def test_the_librarys_own_function_is_not_an_answer(capsys):
    from gan_lessons import losses

    for copied in (losses.d_loss, jax.jit(losses.d_loss), functools.partial(losses.value_function)):
        assert not checks.check_fixed_d_loss(copied, name="copied")  # the reference itself: nothing theirs
        assert "the library's own" in capsys.readouterr().out
    wrappers = (lambda real, fake: losses.d_loss(real, fake) + 0.0,
                lambda real, fake: -losses.value_function(real, fake))
    for wrapper in wrappers:
        assert not checks.check_fixed_d_loss(wrapper, name="wrapped")  # nor a call to it, or to V
        assert "calls gan_lessons.losses." in capsys.readouterr().out
    assert not checks.check_saturating_g_loss(lambda real, fake: losses.g_loss_saturating(fake), name="wrapped")
    assert "losses.g_loss_saturating, which this check withholds" in capsys.readouterr().out
    assert not checks.check_label_maps(jax.jit(lambda labels: models.one_hot_maps(labels, 10)), name="wrapped")
    assert "models.one_hot_maps" in capsys.readouterr().out
    assert checks.one_hot_maps is models.one_hot_maps  # restored in both modules that hold it
    built = lambda config: models.count_parameters(models.make_dcgan(config, jax.random.key(0))[0])
    assert not checks.check_generator_parameters(built, name="built")
    assert "models.make_dcgan, which this check withholds" in capsys.readouterr().out
