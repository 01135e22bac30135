"""The training steps: each player's update touches only its own state, compiles once, repeats exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from gan_lessons import compiling, data, losses, state, steps, training
from gan_lessons.models import MLPDiscriminator, MLPGenerator, make_dcgan


def identical(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def mlp_states(seed=0):
    generator_key, discriminator_key = jax.random.split(jax.random.key(seed))
    generator = MLPGenerator(8, (2,), hidden=(32, 32), rngs=nnx.Rngs(generator_key))
    discriminator = MLPDiscriminator((2,), hidden=(32, 32), rngs=nnx.Rngs(discriminator_key))
    return (training.TrainState.create(discriminator, optax.adam(1e-3, b1=0.5)),
            training.TrainState.create(generator, optax.adam(1e-3, b1=0.5)))


def dcgan_states():
    generator, discriminator = make_dcgan("cpu", jax.random.key(0))
    return (training.TrainState.create(discriminator, training.dcgan_optimizer()),
            training.TrainState.create(generator, training.dcgan_optimizer()))


def ring_batches(steps, batch=64, seed=1):
    return np.asarray(data.ring_of_gaussians().sample(jax.random.key(seed), steps * batch)).reshape(steps, batch, 2)


@pytest.mark.parametrize("make_states, real", [
    (mlp_states, lambda: ring_batches(1)[0]),
    (dcgan_states, lambda: np.zeros((8, 28, 28, 1), np.float32)),
])
def test_each_step_changes_only_its_own_player(make_states, real):
    d_state, g_state = make_states()
    real = real()
    new_d, d_metrics = training.d_step(d_state, g_state, real, jax.random.key(5))
    new_g, g_metrics = training.g_step(g_state, d_state, len(real), jax.random.key(6))
    assert not identical(new_d.params, d_state.params)  # D moved ...
    assert not identical(new_g.params, g_state.params)  # ... and so did G,
    # and each step returns only its own player's state: the other is untouched by construction,
    # so check the inputs were not mutated in place either
    d_again, _ = training.d_step(d_state, g_state, real, jax.random.key(5))
    assert identical(d_again.params, new_d.params)
    # within the combined step: G's parameters after the D update are those before it
    step_d, step_g, _ = training.train_step(d_state, g_state, real, jax.random.key(7))
    d_key, g_key = jax.random.split(jax.random.key(7))
    only_d, _ = training.d_step(d_state, g_state, real, d_key)
    assert identical(step_d.params, only_d.params)
    only_g, _ = training.g_step(g_state, only_d, len(real), g_key)
    assert identical(step_g.params, only_g.params)
    assert np.isfinite(float(d_metrics["d_loss"])) and np.isfinite(float(g_metrics["g_loss"]))


def test_discriminator_gradient_does_not_reach_the_generator():
    """Differentiate the discriminator's loss, as d_step computes it, with respect to G's parameters: zero."""
    d_state, g_state = mlp_states()
    real = ring_batches(1)[0]

    def d_loss_of_generator(g_params):
        _, metrics = steps.plain_d_step(d_state, g_state.replace(params=g_params), real, jax.random.key(2))
        return metrics["d_loss"]

    gradient = jax.grad(d_loss_of_generator)(g_state.params)
    assert all(np.all(np.asarray(leaf) == 0) for leaf in jax.tree.leaves(gradient))


def test_one_input_shape_compiles_once():
    """The step traces once per input shape: a Python side effect runs only while JAX traces, so it counts
    compilations, not calls (the step jitted as ``training.train_step`` is, with a counter around it)."""
    traces = []

    def counted(*args, **kwargs):
        traces.append(args[2].shape)
        return steps.plain_train_step(*args, **kwargs)

    step = compiling.jit(counted, static_argnames=("objective",))
    d_state, g_state = mlp_states()
    batches = ring_batches(4)
    for index, step_key in enumerate(jax.random.split(jax.random.key(3), 4)):
        d_state, g_state, _ = step(d_state, g_state, batches[index], step_key)
    assert len(traces) == 1  # four calls, one compilation
    for step_key in jax.random.split(jax.random.key(4), 3):
        d_state, g_state, _ = step(d_state, g_state, batches[0], step_key)
    assert len(traces) == 1  # same shapes: no new compilation
    step(d_state, g_state, batches[0][:32], jax.random.key(9))
    assert [shape[0] for shape in traces] == [batches.shape[1], 32]  # a new batch size compiles once more


def test_same_seed_same_numbers_and_scan_matches_loop():
    batches = ring_batches(20)
    results = {}
    for runner in ("scan", "scan", "loop"):
        d_state, g_state = mlp_states(seed=3)
        d_state, g_state, metrics = training.train(d_state, g_state, batches, jax.random.key(11),
                                                   runner=runner, chunk_steps=7, progress=False)
        if runner in results:
            assert identical(results[runner][1].params, g_state.params)  # bitwise repeatable
            np.testing.assert_array_equal(results[runner][2]["g_loss"], metrics["g_loss"])
        results[runner] = (d_state, g_state, metrics)
    for a, b in zip(jax.tree.leaves(results["scan"][1].params), jax.tree.leaves(results["loop"][1].params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert results["scan"][2]["d_loss"].shape == (20,)


def test_runner_choice():
    assert training.choose_runner(*mlp_states()) == "scan"
    assert training.choose_runner(*dcgan_states()) == ("loop" if jax.default_backend() == "cpu" else "scan")
    with pytest.raises(ValueError, match="runner must be"):
        training.train(*mlp_states(), ring_batches(2), jax.random.key(0), runner="fast", progress=False)


def test_off_the_cpu_convolutional_models_run_in_a_scan(monkeypatch):
    """jax-ml/jax#12868 (rolled loops of convolution gradients) is XLA:CPU's: a GPU fuses the steps."""
    monkeypatch.setattr(training.jax, "default_backend", lambda: "gpu")
    assert training.choose_runner(*dcgan_states()) == "scan"
    assert training.choose_runner(*mlp_states()) == "scan"


def test_batchnorm_statistics_are_state_updated_in_training_only():
    d_state, g_state = dcgan_states()
    real = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1), minval=-1, maxval=1)
    new_d, _ = training.d_step(d_state, g_state, real, jax.random.key(2))
    assert not identical(new_d.batch_stats, d_state.batch_stats)
    logits_before = training.discriminate(new_d, real)
    assert identical(logits_before, training.discriminate(new_d, real))  # evaluation mode changes nothing
    assert training.generate(g_state, jnp.zeros((3, 100))).shape == (3, 28, 28, 1)


def test_mlp_gan_learns_the_ring():
    """A short run moves the generator's samples onto the ring of radius 2 (a test that training works)."""
    d_state, g_state = mlp_states(seed=0)
    d_state, g_state, _ = training.train(d_state, g_state, ring_batches(1500, batch=128), jax.random.key(1),
                                         progress=False)
    samples = training.generate(g_state, jax.random.normal(jax.random.key(2), (2000, 8)))
    radius = np.linalg.norm(np.asarray(samples), axis=1)
    assert abs(np.median(radius) - 2.0) < 0.3, np.median(radius)


def test_r1_penalty_matches_the_per_example_jacobian():
    d_state, _ = mlp_states()
    real = jnp.asarray(ring_batches(1, batch=16)[0])
    logits = lambda x: training.apply_model(d_state, d_state.params, d_state.batch_stats, x, train=True)[0]
    jacobian = jax.jacrev(logits)(real)  # (B, B, 2): logit i against input j
    per_example = jacobian[jnp.arange(16), jnp.arange(16)]  # (B, 2)
    expected = 0.5 * jnp.mean(jnp.sum(per_example ** 2, axis=1))
    measured = losses.r1_penalty(d_state, d_state.params, d_state.batch_stats, real)
    np.testing.assert_allclose(measured, expected, rtol=1e-5)


def test_r1_weight_flattens_the_discriminator_on_real_data():
    d_state, g_state = mlp_states()
    real = jnp.asarray(ring_batches(1)[0])
    plain_key, penalised_key = jax.random.split(jax.random.key(5))
    plain, _ = training.d_step(d_state, g_state, real, plain_key)
    penalised, _ = training.d_step(d_state, g_state, real, penalised_key, training.Objective(r1_weight=10.0))
    batches = ring_batches(20)
    keys = jax.random.split(jax.random.key(6), 2)
    slopes = {}
    for weight, run_key in zip((0.0, 10.0), keys):
        trained_d, _, _ = training.train(d_state, g_state, batches, run_key, training.Objective(r1_weight=weight),
                                         progress=False)
        slopes[weight] = float(losses.r1_penalty(trained_d, trained_d.params, trained_d.batch_stats, real))
    assert slopes[10.0] < 0.5 * slopes[0.0], slopes


def test_generator_gradient_field_is_the_gradient_of_log_d():
    d_state, _ = mlp_states()
    points = jnp.asarray(ring_batches(1, batch=4)[0], jnp.float32)
    arrows = training.generator_gradient_field(d_state, points)
    log_d = lambda x: float(-jax.nn.softplus(-training.discriminate(d_state, x[None])[0]))
    step = 1e-3
    for point, arrow in zip(points, arrows):
        for axis in range(2):
            offset = jnp.zeros(2).at[axis].set(step)
            central = (log_d(point + offset) - log_d(point - offset)) / (2 * step)
            assert float(arrow[axis]) == pytest.approx(central, rel=2e-2, abs=2e-3)


def linear_critic(weights=(3.0, -4.0)):
    """ℓ(x) = w·x + b: an MLP discriminator with no hidden layer, so ∇_x ℓ = w everywhere."""
    critic = MLPDiscriminator((2,), hidden=(), rngs=nnx.Rngs(0))
    critic.output.kernel[...] = jnp.asarray(weights, jnp.float32)[:, None]
    return training.TrainState.create(critic, optax.sgd(0.1))


def test_gradient_penalty_of_a_linear_critic_is_its_closed_form():
    critic = linear_critic((3.0, -4.0))  # ‖w‖ = 5 → (5 − 1)² = 16 at every interpolated point
    real, fake = jnp.asarray(ring_batches(1, batch=16)[0]), jnp.zeros((16, 2))
    penalty = losses.gradient_penalty(critic, critic.params, critic.batch_stats, real, fake, jax.random.key(0))
    assert np.isclose(penalty, 16.0, rtol=1e-5)
    unit = linear_critic((0.6, 0.8))  # already 1-Lipschitz: no penalty
    assert np.isclose(losses.gradient_penalty(unit, unit.params, unit.batch_stats, real, fake, jax.random.key(0)),
                      0.0, atol=1e-6)


def test_weight_clipping_keeps_every_discriminator_parameter_in_range():
    d_state, g_state = mlp_states()
    clipped, _ = training.d_step(d_state, g_state, jnp.asarray(ring_batches(1)[0]), jax.random.key(1),
                                 training.Objective("wasserstein", "linear", clip_value=0.01))
    assert max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(clipped.params)) <= 0.01


def test_critic_steps_make_that_many_d_updates_per_g_update():
    d_state, g_state = mlp_states()
    objective = training.Objective("wasserstein", "linear", gradient_penalty_weight=10.0, critic_steps=3)
    real = jnp.asarray(ring_batches(3)).reshape(3, 64, 2)
    new_d, new_g, _ = training.train_step(d_state, g_state, real, jax.random.key(2), objective)
    assert int(new_d.step) == 3 and int(new_g.step) == 1
    d_key, g_key = jax.random.split(jax.random.key(2))
    by_hand = d_state
    for critic_key, batch in zip(jax.random.split(d_key, 3), real):
        by_hand, _ = training.d_step(by_hand, g_state, batch, critic_key, objective)
    for a, b in zip(jax.tree.leaves(by_hand.params), jax.tree.leaves(new_d.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # one fused program vs three: rounding only
    # train() groups one real batch per D update: 12 batches → 4 rounds, 4 metric entries
    _, g_after, metrics = training.train(d_state, g_state, ring_batches(12), jax.random.key(3), objective,
                                         progress=False)
    assert int(g_after.step) == 4 and metrics["g_loss"].shape == (4,)
    with pytest.raises(ValueError, match="multiple of 3"):
        training.train(d_state, g_state, ring_batches(10), jax.random.key(3), objective, progress=False)


def test_objective_rejects_unknown_losses():
    with pytest.raises(ValueError, match="discriminator_loss must be one of"):
        training.Objective("wasserstien")
    assert set(training.OBJECTIVES) >= {"WGAN-GP", "hinge", "least squares", "R1"}


def test_spectral_norm_brings_the_largest_singular_value_to_one():
    key = jax.random.key(4)
    discriminator = MLPDiscriminator((2,), hidden=(32,), norm="spectral", rngs=nnx.Rngs(key))
    d_state = training.TrainState.create(discriminator, optax.sgd(0.0))
    real = jnp.asarray(ring_batches(1)[0])
    stats = d_state.batch_stats
    for _ in range(30):  # one power iteration per training-mode call, u kept in batch_stats
        _, stats = training.apply_model(d_state, d_state.params, stats, real, train=True)
    model = d_state.replace(batch_stats=stats).model(train=False)
    model(real)  # evaluation mode: normalise with the stored u, do not update it
    normalised = np.asarray(model.hidden[0].layer_instance.kernel[...])
    assert np.isclose(np.linalg.svd(normalised, compute_uv=False)[0], 1.0, atol=1e-3)
    raw = np.asarray(d_state.params["hidden"][0]["layer_instance"]["kernel"][...])
    assert np.linalg.svd(raw, compute_uv=False)[0] > 1.5  # the stored weight itself is not normalised


def _updates(optimizer, gradients):
    """The parameter updates ``optimizer`` makes for a sequence of gradients of one scalar parameter."""
    parameter = jnp.zeros(())
    state = optimizer.init(parameter)
    updates = []
    for gradient in gradients:
        update, state = optimizer.update(jnp.asarray(gradient), state, parameter)
        updates.append(float(update))
    return np.array(updates)


def test_recipe_optimizers_follow_the_papers_and_are_shared():
    gradients = [1.0, -0.3, 0.5, 3.0, -1.0]
    recipes = training.OBJECTIVES
    # The same settings give the same object: a chapter run again reuses its compiled steps.
    assert training.recipe_optimizer(recipes["hinge"], 2e-4) is training.recipe_optimizer(recipes["hinge"], 2e-4)
    expected = {"hinge": optax.adam(2e-4, b1=0.5), "WGAN-GP": optax.adam(2e-4, b1=0.0, b2=0.9),
                "WGAN, weight clipping": optax.rmsprop(2e-4)}
    for recipe, reference in expected.items():
        np.testing.assert_allclose(_updates(training.recipe_optimizer(recipes[recipe], 2e-4), gradients),
                                   _updates(reference, gradients), rtol=1e-6)
    # chosen by what the recipe has, not by its name: any gradient-penalised critic gets WGAN-GP's Adam
    other_penalty = training.Objective("wasserstein", "linear", gradient_penalty_weight=0.1, critic_steps=5)
    assert training.recipe_optimizer(other_penalty, 2e-4) is training.recipe_optimizer(recipes["WGAN-GP"], 2e-4)
    # β1 = 0 against 0.5: after a sign change the momentum-free step follows the new gradient at once
    assert _updates(training.recipe_optimizer(recipes["WGAN-GP"], 2e-4), gradients)[1] > 0
    assert _updates(training.recipe_optimizer(recipes["hinge"], 2e-4), gradients)[1] < 0
    # Cosine decay: the same gradient moves the parameter by 5 % of the first step once the schedule has ended
    decayed = _updates(training.recipe_optimizer(recipes["R1"], 1e-3, cosine_steps=4), [1.0] * 6)
    np.testing.assert_allclose(decayed[[0, 5]], [-1e-3, -5e-5], rtol=1e-4)
    with pytest.raises(TypeError, match="pass the recipe's Objective"):
        training.recipe_optimizer("WGAN-GP", 1e-4)
    # a plain rate gives the very optimiser chapter 04's DCGAN uses: one compiled step serves both
    assert training.recipe_optimizer(recipes["non-saturating"], 2e-4) is training.dcgan_optimizer(2e-4)


def test_the_average_follows_its_recurrence_and_leaves_the_updates_alone():
    inner, decay = optax.sgd(0.1), 0.9
    averaged = state.with_average(inner, decay)
    params = {"w": jnp.array([1.0, -2.0])}
    averaged_state, inner_state, expected = averaged.init(params), inner.init(params), np.array([1.0, -2.0])
    for _ in range(3):
        grads = {"w": 2 * params["w"]}  # the gradient of ‖w‖²
        updates, averaged_state = averaged.update(grads, averaged_state, params)
        plain_updates, inner_state = inner.update(grads, inner_state, params)
        np.testing.assert_array_equal(updates["w"], plain_updates["w"])
        params = optax.apply_updates(params, updates)
        expected = decay * expected + (1 - decay) * np.asarray(params["w"])
        np.testing.assert_allclose(averaged_state.average["w"], expected, rtol=1e-6)
    assert not np.allclose(averaged_state.average["w"], params["w"])  # an average of the path, not the last point
    assert state.with_average(inner, decay) is averaged  # cached: a rerun reuses its compiled step


def test_train_dcgan_trains_with_the_recipe_and_keeps_g_s_average_on_request():
    from gan_lessons import dcgan

    images = np.asarray(jax.random.uniform(jax.random.key(1), (192, 28, 28, 1), minval=-1, maxval=1))

    def run(objective, **options):
        return dcgan.train_dcgan("cpu", images, jax.random.key(0), epochs=1.0, batch_size=64, progress=False,
                                 objective=objective, **options)

    g_state, d_state, history, settings = run(training.Objective("hinge", "linear", spectral_norm=True),
                                              average_decay=0.5)
    assert len(history["d_real"]) == 3
    assert any(isinstance(layer, nnx.SpectralNorm) for _, layer in nnx.iter_graph(d_state.model()))
    # the loss reaches the steps: the same players and batches under the non-saturating loss end elsewhere
    assert not identical(d_state.params, run(training.Objective(spectral_norm=True))[1].params)
    # three updates at decay 0.5: the average is 1/8 the initial weights and 7/8 the path, neither end of it
    generator, _ = make_dcgan("cpu", jax.random.split(jax.random.key(0), 3)[0], discriminator_norm="spectral")
    initial = nnx.split(generator, nnx.Param, ...)[1]
    average = g_state.opt_state.average
    assert not identical(average, g_state.params) and not identical(average, initial)
    assert settings["generator_optimizer"]["average_decay"] == 0.5
    # a WGAN-GP recipe: its Adam (β1 = 0, β2 = 0.9) for both players; 6 batches make one round of 5 critic steps
    wgan_gp = training.OBJECTIVES["WGAN-GP"]
    g_state, d_state, history, _ = dcgan.train_dcgan("cpu", images, jax.random.key(0), epochs=2.0, batch_size=64,
                                                     progress=False, objective=wgan_gp)
    assert len(history["d_real"]) == 1 and int(d_state.step) == 5 and int(g_state.step) == 1
    assert d_state.optimizer is g_state.optimizer is training.recipe_optimizer(wgan_gp, 2e-4)
    with pytest.raises(ValueError, match="average_decay"):
        run(training.Objective(), average_decay=1.0)


def test_live_run_optimizer_is_dcgans_adam_falling_from_its_rate_to_five_percent_over_the_run():
    from gan_lessons import dcgan

    assert dcgan.LIVE_RUN == ("cpu", 128, 3e-3)
    steps, gradients = 10, [1.0, -0.3, 0.5, 3.0, -1.0, 2.0, 0.1, -2.0, 1.0, 0.5, -0.5, 1.0]  # past the schedule's end
    reference = optax.adam(optax.cosine_decay_schedule(3e-3, steps, alpha=0.05), b1=0.5)
    np.testing.assert_allclose(_updates(dcgan.live_run_optimizer(steps), gradients), _updates(reference, gradients),
                               rtol=1e-5)
    assert dcgan.live_run_optimizer(steps) is dcgan.live_run_optimizer(steps)  # a rerun reuses its compiled step


@pytest.fixture
def benchmarks_importable(monkeypatch):
    """The benchmark scripts (benchmarks/) importable, as they import one another."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))


def test_the_minute_benchmark_lets_the_rate_fall_over_seconds_as_the_chapter_over_steps(benchmarks_importable):
    """benchmarks/minute_from_scratch.py's rate after a share of its seconds is the chapter's after that share of
    its steps."""
    from minute_from_scratch import rate_at

    from gan_lessons import dcgan

    steps, seconds = 20, 60.0
    schedule = optax.cosine_decay_schedule(dcgan.LIVE_RUN.learning_rate, steps, alpha=0.05)
    np.testing.assert_allclose([rate_at(step / steps * seconds, seconds) for step in range(steps + 3)],
                               [schedule(step) for step in range(steps + 3)], rtol=1e-5)


def test_the_benchmarks_pytorch_infogan_alters_digits_and_scores_codes_as_the_course(benchmarks_importable):
    """benchmarks/torch_reference.py's T(x) and real-data term, on the same draws, give what ``data.affine_warp``
    and ``infogan.real_code_loss`` give (PyTorch is a benchmark-only dependency: skipped where it is missing)."""
    torch = pytest.importorskip("torch")
    import torch_reference

    from gan_lessons import infogan

    images, _ = data.load_mnist("test")
    images = np.asarray(images[:8])
    angles, scales = np.linspace(-0.26, 0.26, 8), np.linspace(0.9, 1.1, 8)
    offsets, shears = np.linspace(-2, 2, 16).reshape(8, 2)[::-1], np.linspace(0.3, -0.3, 8)
    ours = data.affine_warp(images, angles, scales, offsets, shears)
    theirs = torch_reference.affine_warp(torch.from_numpy(images.transpose(0, 3, 1, 2)),
                                         *(torch.from_numpy(np.asarray(a, np.float32)) for a in
                                           (angles, scales, offsets, shears)))
    assert float(np.abs(np.asarray(ours) - np.asarray(images)).mean()) > 0.1  # the draws do move the digits
    np.testing.assert_allclose(theirs.numpy().transpose(0, 2, 3, 1), ours, atol=1e-4)
    logits, altered = np.random.default_rng(0).normal(size=(2, 16, 10)).astype(np.float32)
    theirs = torch_reference.real_code_loss(torch.from_numpy(logits), torch.from_numpy(altered))
    np.testing.assert_allclose(float(theirs), float(infogan.real_code_loss(logits, altered)), rtol=1e-5)


def test_the_benchmarks_pytorch_infogan_has_the_courses_weights_and_rates(benchmarks_importable):
    """``TorchInfoGAN`` has as many weights as ``make_infogan``'s players (less the Q column for continuous codes,
    which the course's D keeps and nothing reads here) and its learning rates."""
    import inspect

    pytest.importorskip("torch")
    import torch_reference

    from gan_lessons import infogan
    from gan_lessons.models import count_parameters

    g_state, d_state = infogan.make_infogan(jax.random.key(0))
    gan = torch_reference.TorchInfoGAN(infogan.INFOGAN)
    sizes = [sum(p.numel() for p in module.parameters()) for module in (gan.generator, gan.discriminator)]
    unused_column = 128 + 1  # CodeHead.noise: Dense(128 → 1)
    assert sizes == [count_parameters(nnx.merge(g_state.graphdef, g_state.params, g_state.batch_stats)),
                     count_parameters(nnx.merge(d_state.graphdef, d_state.params, d_state.batch_stats)) - unused_column]
    defaults = inspect.signature(infogan.make_infogan).parameters
    rates = [optimizer.param_groups[0]["lr"] for optimizer in (gan.g_optimizer, gan.d_optimizer)]
    assert rates == [defaults["generator_learning_rate"].default, defaults["discriminator_learning_rate"].default]


def test_the_benchmarks_pytorch_step_keeps_the_other_players_state(benchmarks_importable):
    """What ``TorchGAN.step`` wraps a player in while the other trains, as ``gan_lessons.steps`` does: its BatchNorm
    running averages come back as they were, and its weights' ``requires_grad`` flags, even when the block fails."""
    torch = pytest.importorskip("torch")
    import torch_reference

    from gan_lessons.models import CPU

    gan = torch_reference.make_torch_dcgan(CPU)
    before = [buffer.clone() for buffer in gan.generator.buffers()]
    with pytest.raises(RuntimeError, match="a failing loss"), torch_reference.running_averages_kept(gan.generator):
        gan.generator(torch.randn(8, CPU.latent_dim))  # a pass in training mode moves the averages...
        assert not all(torch.equal(a, b) for a, b in zip(gan.generator.buffers(), before))
        raise RuntimeError("a failing loss")
    assert all(torch.equal(a, b) for a, b in zip(gan.generator.buffers(), before))  # ...and they come back
    parameters = list(gan.discriminator.parameters())
    parameters[0].requires_grad_(False)  # a weight frozen beforehand stays frozen
    with pytest.raises(RuntimeError, match="a failing loss"), torch_reference.frozen(gan.discriminator):
        assert not any(parameter.requires_grad for parameter in parameters)
        raise RuntimeError("a failing loss")
    assert [parameter.requires_grad for parameter in parameters] == [False] + [True] * (len(parameters) - 1)


@pytest.mark.parametrize("model", ["dcgan", "infogan"])
def test_the_benchmarks_pytorch_steps_train_and_leave_d_running_averages_to_ds_update(benchmarks_importable, model):
    """A whole ``TorchGAN.step``, for the DCGAN and for ``TorchInfoGAN``, runs (putting D's running averages back
    must wait for G's backward pass, which reads them), moves G, and G's update leaves D's averages as D's update
    left them."""
    torch = pytest.importorskip("torch")
    import torch_reference

    from gan_lessons import infogan
    from gan_lessons.models import CPU

    gan = torch_reference.make_torch_dcgan(CPU) if model == "dcgan" else torch_reference.TorchInfoGAN(infogan.INFOGAN)
    after_d_update, d_update = [], gan.d_optimizer.step

    def recording_d_update():
        d_update()
        after_d_update.append([buffer.clone() for buffer in gan.discriminator.buffers()])

    gan.d_optimizer.step = recording_d_update
    g_before = [parameter.clone() for parameter in gan.generator.parameters()]
    d_loss, g_loss = gan.step(torch.rand(8, 1, 28, 28) * 2 - 1)
    assert bool(torch.isfinite(d_loss)) and bool(torch.isfinite(g_loss))
    assert not all(torch.equal(a, b) for a, b in zip(gan.generator.parameters(), g_before))
    assert all(torch.equal(a, b) for a, b in zip(gan.discriminator.buffers(), after_d_update[0]))
