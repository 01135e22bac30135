"""The checks behind the chapters' build-it exercises: one function per exercise, in chapter order.

Each takes the student's answer (a function, or an ``nnx.Module`` class), builds its own inputs from fixed
keys, prints one verdict that says what is wrong and where to look, and returns True when the answer is
right. A function is compared with the library's on several inputs (``exercises.check_answer``, with the
wrong answers students give for it); a model or a training step is checked by behaviour: shapes, parameter
counts, the parameters one step gives, a loss that a few steps must lower. tests/test_exercise_checks.py
gives every check a plausible wrong answer and makes sure it is caught.
"""

from __future__ import annotations

import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.linalg
from flax import nnx
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from gan_lessons import clustering, features, infogan, latent, losses, metrics, parallel, training, vae
from gan_lessons.exercises import NOT_ATTEMPTED, LibraryAnswer, call_answer, check_answer, withheld
from gan_lessons.models import (
    CPU,
    PAPER,
    DCGANConfig,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    count_parameters,
    make_dcgan,
    one_hot_maps,
)

# ----------------------------------------------------------------------------------- chapter 03


def _logit_pairs(key):
    """Real and fake logits, from everyday to very confident ones (a naive log(sigmoid) gives inf there)."""
    real_key, fake_key, scale_key = jax.random.split(key, 3)
    scale = jnp.where(jax.random.uniform(scale_key) < 0.5, 1.0, 60.0)
    return scale * jax.random.normal(real_key, (32,)), scale * jax.random.normal(fake_key, (32,))


def check_fixed_d_loss(student, name="your answer") -> bool:
    """D's loss from logits, real labelled 1 and fake 0: ``losses.d_loss``."""
    return check_answer(student, losses.d_loss, _logit_pairs, name=name, trials=6, withhold=[losses.value_function])


def check_saturating_g_loss(student, name="your answer") -> bool:
    """The minimax generator's loss E[log(1 − D(G(z)))] in the signature (real_logits, fake_logits)."""
    mistakes = {"the non-saturating loss −E[log D(G(z))]; this exercise asks for the minimax E[log(1 − D(G(z)))]":
                lambda real, fake: losses.g_loss_non_saturating(fake)}
    return check_answer(student, lambda real, fake: losses.g_loss_saturating(fake), _logit_pairs, name=name,
                        trials=6, mistakes=mistakes, withhold=[losses.g_loss_saturating])


def _say(name: str, text: str) -> bool:
    print(f"{name}: {text}")
    return False


def _same_parameters(state, other) -> bool:
    pairs = zip(jax.tree.leaves(state.params), jax.tree.leaves(other.params))
    return max(float(jnp.max(jnp.abs(a - b))) for a, b in pairs) < 1e-5


def _small_mlp_players(key):
    """(d_state, g_state): chapter 03's players (z of 100 numbers, 28×28×1 images), narrower to check fast."""
    g_key, d_key = jax.random.split(key)
    generator = MLPGenerator(100, (28, 28, 1), hidden=(32,), tanh_output=True, rngs=nnx.Rngs(g_key))
    discriminator = MLPDiscriminator((28, 28, 1), hidden=(32,), rngs=nnx.Rngs(d_key))
    return (training.TrainState.create(discriminator, training.dcgan_optimizer()),
            training.TrainState.create(generator, training.dcgan_optimizer()))


def _first_match(candidates, state):
    return next((text for text, candidate in candidates if _same_parameters(state, candidate)), None)


def check_two_critic_step(student, name="your step") -> bool:
    """Two D steps (one per batch of ``real_pair``), then one G step against the updated D.

    The student's ``step(d_state, g_state, real_pair, key)`` must give the parameters that the library's
    ``training.d_step`` twice and ``training.g_step`` once give, with ``key`` split into three.
    """
    d_state, g_state = _small_mlp_players(jax.random.key(0))
    real_pair = jax.random.uniform(jax.random.key(1), (2, 16, 28, 28, 1), minval=-1.0, maxval=1.0)

    def keys():  # the student's key, drawn afresh for every comparison: a JAX key is used once
        return jax.random.split(jax.random.key(2), 3)

    called, result = call_answer(student, name, (d_state, g_state, real_pair, jax.random.key(2)))
    if not called:
        return False
    if not (isinstance(result, tuple) and len(result) == 2
            and all(isinstance(state, training.TrainState) for state in result)):
        return _say(name, "return (d_state, g_state): the two updated TrainStates, D's first.")
    new_d, new_g = result
    once = training.d_step(d_state, g_state, real_pair[0], keys()[0])[0]
    twice = training.d_step(once, g_state, real_pair[1], keys()[1])[0]
    wrong_d = _first_match([
        ("D's parameters did not move: use the d_state that each D step returns (a TrainState never changes "
         "in place).", d_state),
        ("D took one step; it should take two, one on each batch of real_pair.", once),
        ("both D steps used real_pair[0]; the second should use real_pair[1].",
         training.d_step(once, g_state, real_pair[0], keys()[1])[0]),
    ], new_d)
    if wrong_d or not _same_parameters(new_d, twice):
        return _say(name, wrong_d or "D's parameters differ from two D steps: split key into three "
                    "(first_key, second_key, g_key = jax.random.split(key, 3)) and give the D steps the first two.")
    batch_size = real_pair.shape[1]
    wrong_g = _first_match([
        ("G's parameters did not move: return the g_state its step returns.", g_state),
        ("G was updated against D as it was before its two steps: pass G's step the updated d_state.",
         training.g_step(g_state, d_state, batch_size, keys()[2])[0]),
        ("G was updated against D after one step; it should see D after both.",
         training.g_step(g_state, once, batch_size, keys()[2])[0]),
    ], new_g)
    if wrong_g or not _same_parameters(new_g, training.g_step(g_state, twice, batch_size, keys()[2])[0]):
        return _say(name, wrong_g or "D is right, G is not: one non-saturating G step with g_key (the third key), "
                    "a batch as large as one real batch.")
    print(f"{name}: correct: both D steps and the G step give the library's parameters.")
    return True


# ----------------------------------------------------------------------------------- chapter 04


def check_generator_parameters(student, name="your count") -> bool:
    """G's parameter count from a ``DCGANConfig``: both shipped configurations and one of the check's own."""
    def reference(config):
        return count_parameters(make_dcgan(config, jax.random.key(0))[0])

    def without_batch_norm(config):
        hidden = sum(channels for channels, _ in config.generator_layers[:-1])
        return reference(config) - 2 * (49 * config.projection_channels + hidden)

    mistakes = {"the count without BatchNorm's scale and shift (2 per feature)": without_batch_norm}
    own = DCGANConfig("the check's own", 32, 48, ((24, 2), (1, 2)), (16, 32), 3)  # a lookup of two counts fails
    return check_answer(student, reference, [(CPU,), (PAPER,), (own,)], name=name, mistakes=mistakes,
                        withhold=[make_dcgan, count_parameters, DCGANGenerator])  # from the config, not a model


def _instance(student_class, name):
    """The student's module built with ``rngs=nnx.Rngs(0)``, or None with the reason printed."""
    if student_class is None:
        return _say(name, NOT_ATTEMPTED) or None
    try:
        return student_class(rngs=nnx.Rngs(0))
    except Exception as error:
        _say(name, f"building it as {getattr(student_class, '__name__', 'your class')}(rngs=nnx.Rngs(0)) raised "
             f"{type(error).__name__}: {error}")
        return None


def _output(model, inputs, name):
    try:
        model.train()
        return np.asarray(model(inputs))
    except Exception as error:
        _say(name, f"calling it raised {type(error).__name__}: {error}")
        return None


def _losses_over_steps(model, loss_of_model, steps: int = 10) -> list[float]:
    """The loss before each of ``steps`` Adam steps (lr 1e-3) on the model's parameters, BatchNorm in training mode."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(params, opt_state):
        def loss(params):
            live = nnx.merge(graphdef, params, rest, copy=True)
            live.train()
            return loss_of_model(live)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    opt_state, values = optimizer.init(params), []
    for _ in range(steps):
        params, opt_state, value = step(params, opt_state)
        values.append(float(value))
    return values


def _parameter_mistake(count: int, expected: int, alternatives: list[tuple[str, int]]) -> str:
    for text, number in alternatives:
        if count == number:
            return f"{count:,} parameters, {expected:,} expected: {text}"
    return f"{count:,} parameters, where the cpu configuration's has {expected:,}: compare your layers, one by " \
           "one, with the list in the exercise."


def _generator_alternatives(expected: int) -> list[tuple[str, int]]:
    projection, hidden = 49 * CPU.projection_channels, sum(c for c, _ in CPU.generator_layers[:-1])
    return [
        ("the layers before BatchNorm have biases. BatchNorm subtracts the batch mean, which cancels a bias, so "
         "DCGAN leaves them out (use_bias=False).", expected + projection + hidden),
        ("no BatchNorm. DCGAN puts one after the projection and after every transposed convolution but the last.",
         expected - 2 * (projection + hidden)),
        ("no BatchNorm (and biases in its place). DCGAN puts one after the projection and after every transposed "
         "convolution but the last.", expected - projection - hidden),
        ("no BatchNorm after the projection.", expected - 2 * projection),
        ("the last layer has no bias. No BatchNorm follows it, so it needs its own.", expected - 1),
        ("a BatchNorm after the last layer: DCGAN leaves G's output layer without one.", expected + 2),
    ]


def check_dcgan_generator(student_class, name="your generator") -> bool:
    """The ``cpu`` DCGAN generator as the student's ``nnx.Module``: shapes, parameters, range, and that it learns."""
    model = _instance(student_class, name)
    if model is None:
        return False
    z = jax.random.normal(jax.random.key(1), (8, CPU.latent_dim))
    images = _output(model, z, name)
    if images is None:
        return False
    if images.shape != (8, 28, 28, 1):
        return _say(name, f"z of shape {z.shape} gave {images.shape}, expected (8, 28, 28, 1): reshape the "
                    "projection to (B, 7, 7, 64), then two stride-2 transposed convolutions (7 → 14 → 28).")
    expected = count_parameters(make_dcgan(CPU, jax.random.key(0))[0])
    if (count := count_parameters(model)) != expected:
        return _say(name, _parameter_mistake(count, expected, _generator_alternatives(expected)))
    if images.max() > 1 + 1e-6 or images.min() < -1 - 1e-6:
        return _say(name, "outputs outside [−1, 1]: end with tanh, so G draws in the data's range.")
    if images.min() >= 0:
        return _say(name, "every output is ≥ 0: a sigmoid instead of tanh? The images are in [−1, 1].")
    d_state = training.TrainState.create(make_dcgan(CPU, jax.random.key(3))[1], training.dcgan_optimizer())

    def g_loss(live):
        logits, _ = training.apply_model(d_state, d_state.params, d_state.batch_stats, live(z), train=False)
        return losses.g_loss_non_saturating(logits)

    values = _losses_over_steps(model, g_loss)
    if not values[-1] < values[0]:
        return _say(name, f"10 Adam steps did not lower G's loss against a fixed D ({values[0]:.4f} → "
                    f"{values[-1]:.4f}): is something cut off from the gradient (jax.lax.stop_gradient, a NumPy "
                    "call, an integer cast)?")
    print(f"{name}: correct: (8, 28, 28, 1) images in [−1, 1], {count:,} parameters as the cpu configuration, "
          f"and 10 steps lower its loss ({values[0]:.4f} → {values[-1]:.4f}).")
    return True


def _discriminator_alternatives(expected: int) -> list[tuple[str, int]]:
    first, second = CPU.discriminator_channels
    return [
        ("a BatchNorm on the first layer: DCGAN leaves D's input layer without one.", expected + 2 * first),
        ("no BatchNorm after the second convolution.", expected - 2 * second),
        ("the convolutions have no biases: keep nnx.Conv's default (use_bias=True) here.", expected - first - second),
    ]


def check_dcgan_discriminator(student_class, name="your discriminator") -> bool:
    """The ``cpu`` DCGAN discriminator as the student's ``nnx.Module``: one logit per image, parameters, learning."""
    model = _instance(student_class, name)
    if model is None:
        return False
    real = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1), minval=-1.0, maxval=1.0)
    fake = 0.1 * jax.random.normal(jax.random.key(2), (8, 28, 28, 1))
    logits = _output(model, real, name)
    if logits is None:
        return False
    if logits.shape != (8,):
        hint = " take [:, 0] of the Dense layer's (B, 1)." if logits.shape == (8, 1) else \
            " flatten the last maps to (B, 7·7·32) before the Dense layer, and take [:, 0] of its (B, 1)."
        return _say(name, f"8 images gave shape {logits.shape}; D gives one logit per image, (8,):{hint}")
    expected = count_parameters(make_dcgan(CPU, jax.random.key(0))[1])
    without_redundant_bias = expected - CPU.discriminator_channels[1]  # the BatchNorm after conv2 cancels its bias
    if (count := count_parameters(model)) not in (expected, without_redundant_bias):
        return _say(name, _parameter_mistake(count, expected, _discriminator_alternatives(expected)))
    if logits.min() > 0.25 and logits.max() < 1:
        return _say(name, "the outputs look like probabilities (all near 0.5): return the logit ℓ; the losses "
                    "apply the sigmoid themselves (chapter 03).")
    values = _losses_over_steps(model, lambda live: losses.d_loss(live(real), live(fake)))
    if not values[-1] < values[0]:
        return _say(name, f"10 Adam steps did not lower D's loss on fixed real and fake batches ({values[0]:.4f} → "
                    f"{values[-1]:.4f}): is something cut off from the gradient?")
    bias = "" if count == expected else (" (without conv2's bias, which the BatchNorm after it cancels: the "
                                         f"library's D keeps nnx.Conv's default, {expected - count} more)")
    print(f"{name}: correct: one logit per image, {count:,} parameters as the cpu configuration{bias}, and 10 steps "
          f"lower its loss ({values[0]:.4f} → {values[-1]:.4f}).")
    return True


# ----------------------------------------------------------------------------------- chapter 05


def _softmax_outputs(key):
    scale_key, logit_key = jax.random.split(key)
    scale = jax.random.choice(scale_key, jnp.array([0.5, 3.0, 10.0]))
    return (np.asarray(jax.nn.softmax(scale * jax.random.normal(logit_key, (200, 10))), np.float64),)


def check_classifier_score(student, name="your answer") -> bool:
    """exp(E_x[KL(p(y|x) ‖ p(y))]) from an (N, 10) array of softmax outputs: ``metrics.classifier_score``."""
    mistakes = {"exp of the mean entropy of p(y|x), not of the KL from p(y|x) to the marginal p(y)":
                lambda p: float(np.exp(-np.mean(np.sum(p * np.log(p), axis=1))))}
    return check_answer(student, metrics.classifier_score, _softmax_outputs, name=name, mistakes=mistakes)


def _feature_pair(key):
    """Two (300, 6) feature sets with different means and covariances."""
    a_key, b_key, mix_key = jax.random.split(key, 3)
    mixing = np.asarray(jax.random.normal(mix_key, (6, 6)), np.float64)
    a = np.asarray(jax.random.normal(a_key, (300, 6)), np.float64)
    b = np.asarray(jax.random.normal(b_key, (300, 6)), np.float64) @ mixing + 0.5
    return a, b


def _frechet_without_root(a, b):
    difference = a.mean(0) - b.mean(0)
    covariance_a, covariance_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(difference @ difference + np.trace(covariance_a + covariance_b - 2 * covariance_a @ covariance_b))


def check_frechet_distance(student, name="your answer") -> bool:
    """FD between Gaussians fitted to two feature sets (N, d), (M, d): ``metrics.frechet_distance``."""
    mistakes = {
        "Tr(Σa + Σb − 2 Σa Σb): the square root of Σa Σb (or of its eigenvalues) is missing": _frechet_without_root,
        "‖μa − μb‖ where the formula has its square ‖μa − μb‖²":
            lambda a, b: metrics.frechet_distance(a, b) - float(np.sum((a.mean(0) - b.mean(0)) ** 2))
            + float(np.linalg.norm(a.mean(0) - b.mean(0))),
    }
    return check_answer(student, metrics.frechet_distance, _feature_pair, name=name, mistakes=mistakes, trials=3,
                        rtol=1e-4, atol=1e-6, structure=_matrix_root_taken(_feature_pair(jax.random.key(0))),
                        withhold=[metrics.gaussian_frechet_distance, metrics._symmetric_square_root])


def _matrix_root_taken(arguments):
    """A ``structure`` check for ``check_answer``: None when the answer runs on ``arguments`` without
    ``scipy.linalg.sqrtm``, as the exercise asks; else what it did instead."""
    def taken(student):
        namespace = getattr(inspect.unwrap(student), "__globals__", None)
        try:
            with withheld([scipy.linalg.sqrtm], namespace, modules=[scipy.linalg]):
                student(*arguments)
        except LibraryAnswer:
            return ("it takes a matrix square root (scipy.linalg.sqrtm), which the exercise asks you to do without: "
                    "sum the square roots of the eigenvalues of Σ_r Σ_f instead")
        return None
    return taken


# ----------------------------------------------------------------------------------- chapter 06


def check_d_loss_hinge(student, name="your answer") -> bool:
    return check_answer(student, losses.d_loss_hinge, lambda key: tuple(3 * jax.random.normal(key, (2, 64))),
                        name=name, trials=3)


def check_g_loss_least_squares(student, name="your answer") -> bool:
    mistakes = {"the squared distance without the ½": lambda fake: jnp.mean((fake - 1.0) ** 2),
                "the distance to 0 (the fake label) where G wants its samples scored 1":
                    lambda fake: 0.5 * jnp.mean(fake ** 2)}
    return check_answer(student, losses.g_loss_least_squares, lambda key: (3 * jax.random.normal(key, (64,)),),
                        name=name, trials=3, mistakes=mistakes,
                        withhold=[losses.d_loss_least_squares])  # D's loss with the fakes as "real" is G's


def _logit_function_and_batch(key):
    """A small nonlinear D, x (B, 4, 4, 1) → logits (B,), and a batch for it."""
    weight_key, batch_key = jax.random.split(key)
    weights = jax.random.normal(weight_key, (16, 3))

    def logit_fn(x):
        flat = x.reshape(x.shape[0], -1)
        return jnp.sum(jnp.tanh(flat @ weights), axis=1) + 0.1 * jnp.sum(flat ** 2, axis=1)

    return logit_fn, jax.random.normal(batch_key, (6, 4, 4, 1))


def _r1(logit_fn, real, reduce=jnp.sum, square=True):
    slopes = jax.grad(lambda x: reduce(logit_fn(x)))(real).reshape(real.shape[0], -1)
    norms = jnp.sum(slopes ** 2, axis=1) if square else jnp.sqrt(jnp.sum(slopes ** 2, axis=1))
    return 0.5 * jnp.mean(norms)


def check_r1_penalty(student, name="your answer") -> bool:
    """R1 = ½ E_x ‖∇_x ℓ(x)‖² for a logit function ℓ: (B, ...) → (B,) and a real batch (what
    ``losses.r1_penalty`` computes for a player)."""
    mistakes = {
        "the gradient of the *mean* logit: each example's slope comes out divided by the batch size. Take the "
        "gradient of the sum: example i's logit depends on x_i alone": lambda f, x: _r1(f, x, reduce=jnp.mean),
        "½ E‖∇ℓ‖, the norm not squared": lambda f, x: _r1(f, x, square=False),
    }
    return check_answer(student, _r1, _logit_function_and_batch, name=name, mistakes=mistakes, trials=3)


# ----------------------------------------------------------------------------------- chapter 07


def check_slerp(student, name="your answer") -> bool:
    def linear(z_start, z_end, steps):
        return z_start + jnp.linspace(0.0, 1.0, steps)[:, None] * (z_end - z_start)

    mistakes = {"the straight line (lerp), not the great circle": linear}
    return check_answer(student, latent.spherical_interpolation,
                        lambda key: (*training.sample_latent(key, 2, 100), 7), name=name, atol=1e-4, trials=3,
                        mistakes=mistakes)


def check_label_maps(student, name="your answer") -> bool:
    return check_answer(student, lambda labels: one_hot_maps(labels, 10),
                        lambda key: (jax.random.randint(key, (5,), 0, 10),), name=name, trials=3,
                        withhold=[one_hot_maps])


def _projection_inputs(key):
    """φ(x) (B, 32), labels (B,), ψ's weights (32,), the class embedding (10, 32)."""
    keys = jax.random.split(key, 4)
    return (jax.random.normal(keys[0], (6, 32)), jax.random.randint(keys[1], (6,), 0, 10),
            jax.random.normal(keys[2], (32,)), jax.random.normal(keys[3], (10, 32)))


def projection_logit(features, labels, weights, embedding):
    """Miyato & Koyama's projection discriminator: ℓ(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩, with ψ linear."""
    return features @ weights + jnp.sum(embedding[labels] * features, axis=1)


def check_projection_logit(student, name="your answer") -> bool:
    mistakes = {
        "ψ(φ(x)) alone: the label's term ⟨e_y, φ(x)⟩ is missing": lambda f, y, w, e: f @ w,
        "⟨e_y, φ(x)⟩ alone: the unconditional term ψ(φ(x)) is missing": lambda f, y, w, e: jnp.sum(e[y] * f, axis=1),
    }
    return check_answer(student, projection_logit, _projection_inputs, name=name, trials=3, mistakes=mistakes)


# ----------------------------------------------------------------------------------- chapter 08


def check_pooled(student, name="your answer") -> bool:
    """Max-pool (B, H, W, C) maps to a grid × grid summary, flattened: ``features.pooled`` (H, W divisible)."""
    mistakes = {"average pooling; the summary keeps each block's maximum": lambda maps, grid=4: maps.reshape(
        maps.shape[0], grid, maps.shape[1] // grid, grid, maps.shape[2] // grid, -1).mean(axis=(2, 4)).reshape(
        maps.shape[0], -1)}
    inputs = [(jax.random.normal(map_key, (3, 8, 12, 5)), grid)  # maps taller than wide, on two grids
              for map_key, grid in zip(jax.random.split(jax.random.key(0)), (2, 4))]
    return check_answer(student, features.pooled, inputs, name=name, mistakes=mistakes)


def _probe_inputs(key):
    """Ten overlapping classes in 40 dimensions whose scales span 10⁻² to 10²: 200 labelled points, 500 held out."""
    centre_key, train_key, test_key, train_label_key, test_label_key = jax.random.split(key, 5)
    centres = np.asarray(jax.random.normal(centre_key, (10, 40)))
    scales = np.logspace(-2, 2, 40)

    def draw(point_key, label_key, count):
        labels = np.asarray(jax.random.randint(label_key, (count,), 0, 10))
        points = centres[labels] + 1.5 * np.asarray(jax.random.normal(point_key, (count, 40)))
        return points * scales, labels

    return (*draw(train_key, train_label_key, 200), *draw(test_key, test_label_key, 500))


def check_linear_probe(student, name="your answer") -> bool:
    """Test accuracy of a logistic regression on standardised features: ``features.linear_probe`` (to ±0.02:
    solvers and their stopping points differ a little)."""
    mistakes = {
        "the accuracy on the training features: score the probe on the held-out test features":
            lambda train, labels, test, test_labels: features.linear_probe(train, labels, train, labels),
        "a probe on features that were not standardised: StandardScaler first, fitted on the training features":
            _unscaled_probe,
    }
    return check_answer(student, features.linear_probe, _probe_inputs, name=name, trials=2, atol=0.02, rtol=0.0,
                        mistakes=mistakes)


def _unscaled_probe(train, train_labels, test, test_labels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(LogisticRegression(max_iter=100).fit(train, train_labels).score(test, test_labels))


# ----------------------------------------------------------------------------------- chapter 09


def _cluster_inputs(key):
    """300 points of 10 classes, and clusters that rename the classes, with 10 % moved and 12 cluster ids in all."""
    classes = np.repeat(np.arange(10), 30)
    rename_key, move_key, target_key = jax.random.split(key, 3)
    clusters = np.asarray(jax.random.permutation(rename_key, 10))[classes]
    moved = np.asarray(jax.random.choice(move_key, 300, (30,), replace=False))
    clusters[moved] = np.asarray(jax.random.randint(target_key, (30,), 0, 12))
    return clusters, classes


def check_clustering_accuracy(student, name="your answer") -> bool:
    mistakes = {"the share of points whose cluster number equals their class number, without matching clusters "
                "to classes first": lambda clusters, classes: float(np.mean(clusters == classes))}
    return check_answer(student, clustering.clustering_accuracy, _cluster_inputs, name=name, trials=3,
                        mistakes=mistakes)


def _code_inputs(key):
    logit_key, code_key = jax.random.split(key)
    return 4 * jax.random.normal(logit_key, (32, 10)), jax.random.randint(code_key, (32,), 0, 10)


def check_information_loss(student, name="your answer") -> bool:
    """−E[log Q(c | x)] from Q's logits (B, K) and the codes (B,) that made x: ``infogan.information_loss``."""
    def entropy(code_logits, codes):
        log_q = jax.nn.log_softmax(code_logits)
        return -jnp.mean(jnp.sum(jnp.exp(log_q) * log_q, axis=1))

    def logits_not_normalised(code_logits, codes):
        return -jnp.mean(jnp.take_along_axis(code_logits, codes[:, None], axis=1))

    mistakes = {"the entropy of Q's guess: the codes that made x are not used": entropy,
                "the raw logit of the right code: normalise first with jax.nn.log_softmax": logits_not_normalised}
    return check_answer(student, infogan.information_loss, _code_inputs, name=name, trials=3, mistakes=mistakes)


# ----------------------------------------------------------------------------------- chapter 10


def check_gaussian_kl(student, name="your answer") -> bool:
    mistakes = {"the KL without its ½": lambda mean, log_variance: 2 * vae.gaussian_kl(mean, log_variance)}
    return check_answer(student, vae.gaussian_kl, lambda key: tuple(jax.random.normal(key, (2, 5, 8))), name=name,
                        trials=3, mistakes=mistakes)


def check_reparameterise(student, name="your answer") -> bool:
    mistakes = {"μ + σ² ε: the noise is scaled by the standard deviation exp(½ log σ²), not the variance":
                lambda mean, log_variance, epsilon: mean + jnp.exp(log_variance) * epsilon}
    return check_answer(student, vae.reparameterise, lambda key: tuple(jax.random.normal(key, (3, 5, 8))), name=name,
                        trials=3, mistakes=mistakes)


# ----------------------------------------------------------------------------------- chapter 11


def check_global_moments(student, mesh, name="your answer") -> bool:
    """Each column's mean and variance over all rows of an (N, d) array split over ``mesh``, as ``(mean,
    variance)``: what a BatchNorm layer needs when its batch is split, with ``jax.shard_map`` and collectives."""
    devices = mesh.devices.size
    rows = 8 * devices

    def inputs(key):  # each device's rows get an offset of their own, so its mean differs from the others'
        offsets = jnp.repeat(jnp.arange(devices, dtype=jnp.float32), rows // devices)[:, None]
        return (parallel.shard_batch(jax.random.normal(key, (rows, 5)) + offsets, mesh),)

    def own_variances(x):  # the natural wrong answer: each device's variance about its own mean, averaged
        blocks = x.reshape(devices, rows // devices, -1)
        return jnp.mean(x, axis=0), jnp.mean(jnp.var(blocks, axis=1), axis=0)

    mistakes = {"the mean of each device's variance about its own mean: it leaves out how far the devices' "
                "means lie from the global mean. Subtract the global mean (pmean of the devices' means) "
                "before squaring": own_variances}
    return check_answer(student, lambda x: (jnp.mean(x, axis=0), jnp.var(x, axis=0)), inputs, name=name,
                        atol=1e-4, trials=3, mistakes=mistakes,
                        structure=_shard_map_missing(inputs(jax.random.key(0))))


def _shard_map_missing(arguments, static_argnums=()):
    """A ``structure`` check for ``check_answer``: None when the answer's program, traced on ``arguments``, has a
    ``jax.shard_map`` and a collective in it, as the exercise asks (the right numbers alone could come from a
    one-device formula); else what is missing."""
    def missing(student):
        try:
            program = str(jax.make_jaxpr(student, static_argnums=static_argnums)(*arguments))
        except Exception:  # e.g. NumPy on traced values: not the per-device program the exercise asks for
            program = ""
        if "shard_map[" in program and "psum" in program:  # lax.pmean and lax.psum both trace to a psum
            return None
        return ("the answer does not run through jax.shard_map with a collective (lax.pmean or lax.psum): the "
                "exercise asks for the program one device runs on its block, combined across the mesh")
    return missing


def _squared_error(weights, rows):
    """A mean loss over the rows: ½ mean ‖rows W − 1‖²."""
    return 0.5 * jnp.mean(jnp.sum((rows @ weights - 1.0) ** 2, axis=1))


def check_parallel_gradient(student, mesh, name="your answer") -> bool:
    """∇_W of a mean loss over a batch split over ``mesh``, computed with ``jax.shard_map``: each device
    differentiates the whole batch's mean loss, the ``lax.pmean`` of its rows' mean loss. Must equal
    ``jax.grad(loss_fn)(weights, batch)`` on the whole batch."""
    devices, rows = mesh.devices.size, 8 * mesh.devices.size

    def inputs(key):
        weight_key, batch_key = jax.random.split(key)
        batch = parallel.shard_batch(jax.random.normal(batch_key, (rows, 5)), mesh)
        return _squared_error, jax.random.normal(weight_key, (5, 3)), batch, mesh

    def whole_batch(loss_fn, weights, batch, mesh):
        return jax.grad(loss_fn)(weights, batch)

    mistakes = {
        f"{devices} × the whole batch's gradient: the gradient of each device's own mean loss. jax.grad with "
        "respect to weights copied to every device (in_specs P()) already adds up the devices' parts, so a pmean "
        "after it changes nothing. Differentiate the whole batch's mean loss instead: "
        "jax.grad(lambda w: lax.pmean(loss_fn(w, block), 'batch'))(weights)":
            lambda *arguments: devices * whole_batch(*arguments),
        f"{devices * devices} × the whole batch's gradient: a psum after jax.grad adds the devices' parts a second "
        "time (jax.grad already added them: see the exercise)":
            lambda *arguments: devices ** 2 * whole_batch(*arguments),
    } if devices > 1 else {}
    return check_answer(student, whole_batch, inputs, name=name, atol=1e-4, trials=2, mistakes=mistakes,
                        structure=_shard_map_missing(inputs(jax.random.key(0)), static_argnums=(0, 3)))
