"""InfoGAN, ClusterGAN and BiGAN: their losses on closed-form cases, and who each update may change."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import bigan, clustergan, infogan


def _images(key, count=16):
    return jax.random.uniform(key, (count, 28, 28, 1), minval=-1, maxval=1)


def _changed(before, after) -> bool:
    return any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before.params), jax.tree.leaves(after.params)))


def test_information_loss_against_its_closed_forms():
    codes = jnp.array([0, 3, 7, 9])
    # Q guesses uniformly: −E log Q = log K, so the bound L_I = log K − loss = 0 (no information)
    assert float(infogan.information_loss(jnp.zeros((4, 10)), codes)) == pytest.approx(math.log(10), rel=1e-6)
    # Q sure and right: loss → 0, L_I → H(c) = log K
    assert float(infogan.information_loss(100.0 * jax.nn.one_hot(codes, 10), codes)) == pytest.approx(0, abs=1e-6)
    # Q puts probability p on the right code: loss = −log p
    logits = jnp.log(jnp.where(jax.nn.one_hot(codes, 10) > 0, 0.6, 0.4 / 9))
    assert float(infogan.information_loss(logits, codes)) == pytest.approx(-math.log(0.6), rel=1e-5)


def test_real_code_loss_against_its_closed_forms():
    codes = jnp.arange(10)
    # Q uniform on every image and its shifted copy: H(Q) = log K, H(mean Q) = log K, consistency log K
    uniform = jnp.zeros((10, 10))
    assert float(infogan.real_code_loss(uniform, uniform)) == pytest.approx(math.log(10), rel=1e-5)
    # Q sure, each code used once, the shifted copies given the same codes: 0 − log K + 0
    sure = 100.0 * jax.nn.one_hot(codes, 10)
    assert float(infogan.real_code_loss(sure, sure)) == pytest.approx(-math.log(10), abs=1e-4)
    # sure and consistent but every image given code 0: nothing is rewarded, 0 − 0 + 0
    all_zero = 100.0 * jax.nn.one_hot(jnp.zeros(10, int), 10)
    assert float(infogan.real_code_loss(all_zero, all_zero)) == pytest.approx(0.0, abs=1e-4)
    # sure on x, but the shifted copy uniform: the consistency term is −log(1/K) = log K
    assert float(infogan.real_code_loss(sure, uniform)) == pytest.approx(0.0, abs=1e-4)
    # the target Q(c | x) is held fixed: only the shifted copy's logits get a consistency gradient
    gradient = jax.grad(lambda logits: infogan.real_code_loss(sure, logits))(uniform)
    assert float(jnp.abs(gradient).sum()) > 0


def test_real_code_score_averages_the_loss_over_whole_batches():
    _, d_state = infogan.make_infogan(jax.random.key(0))
    images = np.asarray(_images(jax.random.key(1), 250))
    score = infogan.real_code_score(d_state, images, jax.random.key(2), batch_size=100)  # two batches; 50 left out
    keys = jax.random.split(jax.random.key(2), 2)
    by_hand = np.mean([float(infogan._real_code_loss_on(d_state, images[start:start + 100], batch_key))
                       for start, batch_key in zip((0, 100), keys)])
    assert score == pytest.approx(by_hand, rel=1e-6)
    assert -math.log(10) <= score <= 2 * math.log(10)  # an untrained Q is unsure: near log K, never below −log K
    with pytest.raises(ValueError, match="at least one whole batch"):
        infogan.real_code_score(d_state, images[:50], jax.random.key(3), batch_size=100)
    # scored with the T a run was trained with: a shear changes the altered copies, so the score
    slanted = infogan.real_code_score(d_state, images, jax.random.key(2), batch_size=100, shear=0.3)
    slanted_by_hand = np.mean([float(infogan._real_code_loss_on(d_state, images[start:start + 100], batch_key, 0.3))
                               for start, batch_key in zip((0, 100), keys)])
    assert slanted == pytest.approx(slanted_by_hand, rel=1e-6) and slanted != score


def test_infogan_step_with_the_real_term_changes_only_d_and_q_by_it():
    g_state, d_state = infogan.make_infogan(jax.random.key(0))
    images = _images(jax.random.key(1), 64)
    plain_d, plain_g, plain_metrics = infogan.train_step(d_state, g_state, images, jax.random.key(2))
    real_d, real_g, real_metrics = infogan.train_step(d_state, g_state, images, jax.random.key(2), real_weight=1.0)
    # the real-data term enters D's loss, starting near log K (Q near uniform), and moves D differently
    assert float(plain_metrics["real_code_loss"]) == 0.0
    assert 0.5 * math.log(10) < float(real_metrics["real_code_loss"]) < 1.5 * math.log(10)
    assert _changed(plain_d, real_d)
    assert float(real_metrics["information_loss"]) == pytest.approx(float(plain_metrics["information_loss"]), rel=1e-5)
    # a shear in T changes the altered copies, so the real term and D's update; without the real term, nothing
    slanted_d, _, slanted_metrics = infogan.train_step(d_state, g_state, images, jax.random.key(2), real_weight=1.0,
                                                       shear=0.3)
    assert _changed(real_d, slanted_d)
    assert float(slanted_metrics["real_code_loss"]) != float(real_metrics["real_code_loss"])
    unused_d, _, _ = infogan.train_step(d_state, g_state, images, jax.random.key(2), shear=0.3)
    assert not _changed(plain_d, unused_d)
    with pytest.raises(ValueError, match="pass real_weight > 0"):
        infogan.train(d_state, g_state, np.asarray(images), jax.random.key(3), steps=1, shear=0.3, progress=False)


def test_infogan_step_updates_both_players_and_q_learns_the_code():
    g_state, d_state = infogan.make_infogan(jax.random.key(0))
    images = _images(jax.random.key(1), 64)
    new_d, new_g, metrics = infogan.train_step(d_state, g_state, images, jax.random.key(2))
    assert _changed(d_state, new_d) and _changed(g_state, new_g)
    assert float(metrics["information_loss"]) == pytest.approx(math.log(10), abs=0.1)  # Q starts at chance
    real = np.asarray(_images(jax.random.key(3), 2000))
    d_state, g_state, history = infogan.train(d_state, g_state, real, jax.random.key(4), steps=100, progress=False)
    # G and Q cooperate on the code from the first steps: Q must be far better than chance on fakes
    assert history["information_loss"][-20:].mean() < 0.5 * math.log(10)
    clusters = infogan.predict_clusters(d_state, real[:50], batch_size=20)
    assert clusters.shape == (50,) and len(np.unique(clusters)) > 1  # not one cluster for everything


def test_continuous_information_loss_is_the_unit_gaussians_negative_log_density():
    codes, estimates = jnp.array([[0.5, -1.0], [0.0, 0.25]]), jnp.array([[0.0, -1.0], [1.0, 0.25]])
    # ½ mean over images of the squared distance summed over codes: ½ (0.25 + 1) / 2
    assert float(infogan.continuous_information_loss(estimates, codes)) == pytest.approx(0.3125, rel=1e-6)
    log_density = jax.scipy.stats.norm.logpdf(codes, loc=estimates).sum(axis=1).mean()
    assert float(infogan.continuous_information_loss(estimates, codes)) == pytest.approx(
        -float(log_density) - math.log(2 * math.pi), rel=1e-6)  # less the constant ½ log 2π per dimension


def test_infogan_with_continuous_codes_draws_them_uniform_and_q_learns_them():
    from gan_lessons.state import apply_model

    g_state, d_state = infogan.make_infogan(jax.random.key(0), continuous=2)
    plain_z, plain_codes = infogan.sample_codes(jax.random.key(5), 4000, 8, 10)
    z, codes = infogan.sample_codes(jax.random.key(5), 4000, 8, 10, continuous=2)
    # the noise and the categories are drawn as without continuous codes; c′ ~ U(−1, 1) in the last columns
    np.testing.assert_array_equal(z[:, :8], plain_z)
    np.testing.assert_array_equal(codes, plain_codes)
    assert float(z[:, 8:].min()) >= -1 and float(z[:, 8:].max()) <= 1
    assert float(jnp.var(z[:, 8:])) == pytest.approx(1 / 3, rel=0.05)  # a uniform on [−1, 1] has variance 1/3
    uniform_z, uniform_codes = infogan.sample_codes(jax.random.key(5), 4000, 8, 10, continuous=2, noise="uniform")
    np.testing.assert_array_equal(uniform_z[:, 8:], z[:, 8:])  # only the noise is drawn otherwise
    np.testing.assert_array_equal(uniform_codes, codes)
    assert float(jnp.abs(uniform_z[:, :8]).max()) <= 1
    assert float(jnp.var(uniform_z[:, :8])) == pytest.approx(1 / 3, rel=0.05)
    with pytest.raises(ValueError, match="noise must be 'normal' or 'uniform', got 'gaussian'"):
        infogan.train(d_state, g_state, np.zeros((64, 28, 28, 1), np.float32), jax.random.key(0), 1,
                      noise="gaussian")
    real = np.asarray(_images(jax.random.key(3), 2000))
    _, _, first = infogan.train_step(d_state, g_state, jnp.asarray(real[:64]), jax.random.key(2))
    # information loss at the start: log K for the category, about ½·2·(1/3 + E[ĉ′²]) for the two codes
    assert float(first["information_loss"]) > math.log(10) + 0.2
    d_state, g_state, history = infogan.train(d_state, g_state, real, jax.random.key(4), steps=100, progress=False)
    assert history["information_loss"][-20:].mean() < 0.5 * math.log(10)
    # Q reads c′ back from G's images: well under the ½·2·(1/3) an estimate of 0 would score
    z, codes = infogan.sample_codes(jax.random.key(6), 500, 8, 10, continuous=2)
    fakes, _ = apply_model(g_state, g_state.params, g_state.batch_stats, (z, codes), train=False)
    (_, _, estimates), _ = apply_model(d_state, d_state.params, d_state.batch_stats, fakes, train=False)
    continuous_loss = float(infogan.continuous_information_loss(estimates, z[:, 8:]))
    assert continuous_loss < 0.5 / 3, continuous_loss
    assert infogan.predict_clusters(d_state, real[:50], batch_size=25).shape == (50,)
    with pytest.raises(ValueError, match="norm must be 'batch'"):
        infogan.make_infogan(jax.random.key(0), discriminator_norm="none", hidden=1024)


def test_clustergan_step_updates_all_three_players():
    g_state, d_state, e_state = clustergan.make_clustergan(jax.random.key(0))
    noise, codes = clustergan.sample_prior(jax.random.key(5), 1000, 30, 10)
    assert float(jnp.std(noise)) == pytest.approx(clustergan.COURSE.noise_std, rel=0.05) and set(
        np.unique(codes)) == set(range(10))
    new_d, new_g, new_e, metrics = clustergan.train_step(d_state, g_state, e_state, _images(jax.random.key(1)),
                                                         jax.random.key(2))
    assert _changed(d_state, new_d) and _changed(g_state, new_g) and _changed(e_state, new_e)
    assert float(metrics["cluster_error"]) == pytest.approx(math.log(10), abs=0.2)
    probabilities, noise_estimates = clustergan.encode(new_e, _images(jax.random.key(4), 7), batch_size=3)
    assert probabilities.shape == (7, 10) and noise_estimates.shape == (7, 30)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_clustergan_paper_recipe_takes_five_critic_steps_per_generator_step():
    recipe = clustergan.PAPER
    g_state, d_state, e_state = clustergan.make_clustergan(jax.random.key(0), recipe=recipe)
    assert d_state.batch_stats == {}  # a WGAN-GP critic: no BatchNorm, each image scored on its own
    noise, _ = clustergan.sample_prior(jax.random.key(5), 1000, 30, 10, recipe.noise_std)
    assert float(jnp.std(noise)) == pytest.approx(0.1, rel=0.05)
    real = jnp.stack([_images(key, 8) for key in jax.random.split(jax.random.key(1), 5)])  # (5, 8, 28, 28, 1)
    new_d, new_g, new_e, metrics = clustergan.train_step(d_state, g_state, e_state, real, jax.random.key(2), recipe)
    assert (int(new_d.step), int(new_g.step), int(new_e.step)) == (5, 1, 1)
    # the critic's loss is the Wasserstein estimate plus λ·GP, so it may be negative; G's adds −ℓ(G(z))
    assert np.isfinite(float(metrics["d_loss"])) and float(metrics["cluster_error"]) == pytest.approx(
        math.log(10), abs=0.2)
    d_state, g_state, e_state, history = clustergan.train(d_state, g_state, e_state, np.asarray(_images(
        jax.random.key(3), 64)), jax.random.key(4), steps=3, batch_size=8, recipe=recipe, progress=False)
    assert int(d_state.step) == 15 and int(g_state.step) == 3 and len(history["g_loss"]) == 3


def test_bigan_d_step_never_moves_g_or_e_and_the_joint_step_moves_both():
    g_state, d_state, e_state = bigan.make_bigan(jax.random.key(0))
    images = _images(jax.random.key(1))
    new_d, _ = bigan._d_step(d_state, g_state, e_state, images, jax.random.key(2))
    assert _changed(d_state, new_d)
    new_g, new_e, _ = bigan._generator_encoder_step(g_state, e_state, new_d, images, jax.random.key(3))
    assert _changed(g_state, new_g) and _changed(e_state, new_e)
    codes = bigan.encode(new_e, np.asarray(images), batch_size=5)
    assert codes.shape == (16, bigan.BIGAN.latent_dim) and np.all(np.isfinite(codes))


def test_bigan_generator_and_encoder_loss_is_d_loss_with_labels_swapped():
    from gan_lessons import losses

    real_logits, fake_logits = jnp.array([1.5, -0.3]), jnp.array([0.2, -2.0])
    swapped = losses.g_loss_non_saturating(fake_logits) + losses.g_loss_non_saturating(-real_logits)
    # −log σ(ℓ_fake) − log(1 − σ(ℓ_real)) = L_D(real ↔ fake)
    assert float(swapped) == pytest.approx(float(losses.d_loss(fake_logits, real_logits)), rel=1e-6)


def test_train_command_trains_clustergan_by_the_papers_recipe(tmp_path, data_dir):
    from gan_lessons import pretrained, train

    out = tmp_path / "clustergan_paper.ckpt"
    result = train.main(["clustergan", "--recipe", "paper", "--epochs", "0.01", "--data-dir", str(data_dir),
                         "--validation", "10000", "--out", str(out)])
    assert 0.0 < result["validation_accuracy"] <= 1.0
    states = dict(zip(("generator", "discriminator", "encoder"),
                      clustergan.make_clustergan(jax.random.key(1), recipe=clustergan.PAPER)))
    _, config = pretrained.load_players(out, states)  # fits the paper's players: a critic without BatchNorm
    assert config["recipe"] == "paper" and config["command"].startswith("python -m gan_lessons.train clustergan")
    parser = train.build_parser()
    assert [parser.parse_args(["clustergan", "--recipe", name]).recipe for name in clustergan.RECIPES] == list(
        clustergan.RECIPES)  # the command offers every recipe the library has
    # without --out, a recipe other than the course's never lands on the shipped ClusterGAN's file
    assert train._output(parser.parse_args(["clustergan", "--recipe", "paper"])).name == "clustergan_paper_mnist.ckpt"


def test_infogan_discriminator_takes_the_authors_leaky_slope_and_q_batchnorm():
    from flax import nnx

    from gan_lessons.models import InfoGANDiscriminator

    config = dataclasses.replace(infogan.PAPER_NETWORKS, latent_dim=62)
    ours = InfoGANDiscriminator(config, 10, "batch", 2, 1024, rngs=nnx.Rngs(0))
    theirs = InfoGANDiscriminator(dataclasses.replace(config, leaky_slope=0.01), 10, "batch", 2, 1024, q_norm=True,
                                  rngs=nnx.Rngs(0))
    images = _images(jax.random.key(3), 8)
    ours_first, theirs_first = ours.features(images)[0], theirs.features(images)[0]  # the same first convolution
    np.testing.assert_allclose(np.maximum(theirs_first, 0), np.maximum(ours_first, 0), rtol=1e-6)
    np.testing.assert_allclose(np.minimum(theirs_first, 0), 0.05 * np.minimum(ours_first, 0), rtol=1e-5, atol=1e-8)
    assert float(np.min(ours_first)) < 0  # so the line above compared negative parts
    assert not hasattr(ours.code_head, "hidden_norm") and theirs.code_head.hidden_norm.num_features == 128
    # D's FC 1024 (φ) and Q's FC 128: LeakyReLU(BatchNorm(Dense(·))) with batch statistics, so undoing the slope of
    # 0.01 leaves each unit with mean 0 and SD 1 over the batch (with the slope of 0.2, the SD would be far off)
    for layer in theirs.features(images)[2:]:  # (8, 1024), (8, 128)
        normalised = np.where(layer > 0, layer, layer / 0.01)
        np.testing.assert_allclose(normalised.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(normalised.std(axis=0), 1, atol=0.01)


def test_train_command_trains_infogan_with_the_papers_networks_and_latent_codes(tmp_path, data_dir):
    from gan_lessons import pretrained, train
    from gan_lessons.state import apply_model

    out = tmp_path / "infogan_paper.ckpt"
    options = ["--networks", "paper", "--noise-dim", "62", "--continuous-codes", "2"]
    details = ["--noise", "uniform", "--q-batchnorm", "--leaky-slope", "0.01"]  # the authors' code's, besides
    train.main(["infogan", *options, *details, "--epochs", "0.005", "--data-dir", str(data_dir), "--out", str(out)])
    config = dataclasses.replace(infogan.PAPER_NETWORKS, latent_dim=62, leaky_slope=0.01)
    g_state, d_state = infogan.make_infogan(jax.random.key(1), config=config, continuous=2, hidden=1024, q_norm=True)
    players, stored = pretrained.load_players(out, {"generator": g_state, "discriminator": d_state})  # shapes fit
    assert (stored["networks"], stored["noise_dim"], stored["continuous_codes"], stored["noise"]) == (
        "paper", 62, 2, "uniform")
    assert stored["q_batchnorm"] and stored["leaky_slope"] == 0.01
    trained = players["discriminator"]  # Q's BatchNorm kept running statistics, which evaluation uses
    assert float(jnp.abs(trained.batch_stats["code_head"]["hidden_norm"]["mean"][...]).max()) > 0
    batch = np.asarray(_images(jax.random.key(4), 16))
    (_, evaluated, _), _ = apply_model(trained, trained.params, trained.batch_stats, batch, False)
    (_, in_training, _), _ = apply_model(trained, trained.params, trained.batch_stats, batch, True)
    assert not np.allclose(evaluated, in_training)
    # Chen et al.'s sizes: G's FC 1024 and FC 7·7·128; D's 64 and 128 channels, FC 1024, Q's FC 128
    g_kernels = sorted(leaf.shape for leaf in jax.tree.leaves(g_state.params) if leaf.ndim == 2)
    assert g_kernels == [(74, 1024), (1024, 7 * 7 * 128)]
    d_kernels = {leaf.shape for leaf in jax.tree.leaves(d_state.params) if leaf.ndim == 2}
    assert {(7 * 7 * 128, 1024), (1024, 1), (1024, 128), (128, 10), (128, 2)} <= d_kernels
    images = np.asarray(_images(jax.random.key(3), 64))
    (logits, code_logits, estimates), _ = apply_model(d_state, d_state.params, d_state.batch_stats, images, False)
    assert logits.shape == (64,) and code_logits.shape == (64, 10) and estimates.shape == (64, 2)
    # without --out, other networks, latent codes, noise or details never land on a shipped InfoGAN's file
    parser = train.build_parser()
    assert train._output(parser.parse_args(["infogan", *options])).name == "infogan_paper_z62_c2_mnist.ckpt"
    assert train._output(parser.parse_args(["infogan", *options, *details])).name == (
        "infogan_paper_z62_c2_uniform_qbn_leaky0.01_mnist.ckpt")
    assert train._output(parser.parse_args(["infogan", "--real-weight", "1", "--continuous-codes", "2"])).name == (
        "infogan_real_course_z8_c2_mnist.ckpt")
    assert train._output(parser.parse_args(["infogan"])).name == "infogan_mnist.ckpt"


@pytest.mark.parametrize("model", ["infogan", "bigan"])
def test_train_command_writes_a_loadable_checkpoint(tmp_path, data_dir, model):
    from gan_lessons import pretrained, train

    out = tmp_path / f"{model}.ckpt"
    real_term = ["--real-weight", "1", "--shear", "0.3"] if model == "infogan" else []  # InfoGAN + real-data term
    result = train.main([model, "--epochs", "0.005", "--data-dir", str(data_dir), "--out", str(out), *real_term])
    if model == "infogan":  # scored on the 10,000 test digits; a few steps in, well short of a clustering
        assert 0.1 <= result["test_accuracy"] < 0.9
    makers = {"infogan": infogan.make_infogan, "bigan": bigan.make_bigan}
    states = dict(zip(("generator", "discriminator", "encoder"), makers[model](jax.random.key(20))))
    if model == "bigan":  # BiGAN is saved without its joint discriminator
        del states["discriminator"]
    names = set(states)
    loaded, config = pretrained.load_players(out, states)
    assert config["command"].endswith(f"--out {out} {' '.join(real_term)}".strip()) and set(loaded) == set(names)
    assert config.get("real_weight", 0) == config.get("shear", 0) / 0.3 == (1.0 if model == "infogan" else 0)
    assert {name: config[name] for name in result} == result  # the scores travel with the weights
    if model == "infogan":  # the label-free score stored for choosing among seeds, never below its floor −log K
        assert -math.log(10) - 1e-3 <= config["train_real_code_loss"] <= 2 * math.log(10)
        # the loaded weights are the trained ones: they cluster the test digits exactly as scored at the end
        from gan_lessons import clustering, data

        test_images, test_labels = data.load_mnist("test", data_dir)
        clusters = infogan.predict_clusters(loaded["discriminator"], test_images)
        scores = clustering.score_clustering(clusters, test_labels.astype("int64"))
        assert round(scores.accuracy, 4) == result["test_accuracy"] and round(scores.nmi, 4) == result["test_nmi"]


@pytest.mark.parametrize("model, dataset", [("infogan", "mnist"), ("infogan_real", "mnist"),
                                            ("infogan_real", "fashion_mnist"), ("clustergan", "mnist")])
def test_shipped_clustering_gan_reproduces_its_recorded_scores(data_dir, model, dataset):
    from gan_lessons import clustering, data, pretrained

    players, config = pretrained.load_code_gan(model, dataset)
    load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    images, labels = load("test", data_dir)
    if model.startswith("infogan"):
        clusters = infogan.predict_clusters(players["discriminator"], images)
    else:
        clusters = clustergan.predict_clusters(players["encoder"], images)
    scores = clustering.score_clustering(clusters, labels.astype(np.int64))
    # recorded on all 10,000 test digits at training time; CPUs with other core counts round differently
    assert scores.accuracy == pytest.approx(config["test_accuracy"], abs=0.005)
    assert scores.nmi == pytest.approx(config["test_nmi"], abs=0.005)


def test_unknown_code_gan_is_refused():
    from gan_lessons import pretrained

    with pytest.raises(ValueError, match="must be one of"):
        pretrained.load_code_gan("cyclegan")


def test_train_command_with_validation_scores_held_out_training_digits_not_the_test_set(tmp_path, data_dir):
    from gan_lessons import clustering, data, pretrained, train

    with pytest.raises(SystemExit, match="--out"):  # a candidate must never replace the shipped checkpoint
        train.main(["infogan", "--epochs", "0.005", "--data-dir", str(data_dir), "--validation", "10000"])
    out = tmp_path / "candidate.ckpt"
    result = train.main(["infogan", "--epochs", "0.005", "--data-dir", str(data_dir), "--validation", "10000",
                         "--out", str(out)])
    assert "test_accuracy" not in result and 0.1 <= result["validation_accuracy"] < 0.9
    states = dict(zip(("generator", "discriminator"), infogan.make_infogan(jax.random.key(20))))
    loaded, config = pretrained.load_players(out, states)
    _, (held_out, held_out_labels) = data.validation_split(*data.load_mnist("train", data_dir), 10_000)
    scores = clustering.score_clustering(infogan.predict_clusters(loaded["discriminator"], held_out),
                                         held_out_labels.astype("int64"))
    assert round(scores.accuracy, 4) == config["validation_accuracy"] == result["validation_accuracy"]


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_validation_runs_reproduce_their_held_out_scores_and_the_chapters_record(data_dir, dataset, seed):
    """Chapter 09 chooses its setting from these runs' validation scores: the files must hold what they claim."""
    import json
    from pathlib import Path

    from gan_lessons import clustering, data, pretrained

    players, config = pretrained.load_code_gan("infogan_real", dataset, f"validation_seed{seed}")
    load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    _, (held_out, held_out_labels) = data.validation_split(*load("train", data_dir), config["validation"])
    scores = clustering.score_clustering(infogan.predict_clusters(players["discriminator"], held_out),
                                         held_out_labels.astype(np.int64))
    assert scores.accuracy == pytest.approx(config["validation_accuracy"], abs=0.005)  # other core counts round
    assert scores.nmi == pytest.approx(config["validation_nmi"], abs=0.005)
    record = json.loads((Path(__file__).parents[1] / "notebooks/results/09_seed_runs.json").read_text())
    row, = [run for run in record["validation"][dataset]["runs"]
            if (run["seed"], run["shear"], run["epochs"]) == (seed, config["shear"], config["epochs"])]
    assert (row["acc"], row["nmi"], row["real_code_loss"]) == (
        config["validation_accuracy"], config["validation_nmi"], config["train_real_code_loss"])
