"""The VAE's pieces against closed forms, its bounds against each other, and a short training run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import data, pretrained, train, vae


@pytest.fixture(scope="module")
def state():
    return vae.make_vae(jax.random.key(0), latent_dim=8)


def test_gaussian_kl_matches_the_closed_form_and_a_monte_carlo_estimate():
    np.testing.assert_allclose(vae.gaussian_kl(jnp.zeros((1, 4)), jnp.zeros((1, 4))), [0.0], atol=1e-7)
    # one dimension, μ = 1, σ² = e: ½(1 + e − 1 − 1) = (e − 1)/2
    np.testing.assert_allclose(vae.gaussian_kl(jnp.ones((1, 1)), jnp.ones((1, 1))), [(np.e - 1) / 2], rtol=1e-6)
    mean, log_variance = jnp.array([[0.5, -1.0]]), jnp.array([[-0.4, 0.3]])
    z = mean + jnp.exp(0.5 * log_variance) * jax.random.normal(jax.random.key(1), (200_000, 2))
    log_q = -0.5 * jnp.sum(jnp.log(2 * jnp.pi) + log_variance + (z - mean) ** 2 / jnp.exp(log_variance), axis=1)
    log_p = -0.5 * jnp.sum(jnp.log(2 * jnp.pi) + z ** 2, axis=1)
    np.testing.assert_allclose(float(jnp.mean(log_q - log_p)), float(vae.gaussian_kl(mean, log_variance)[0]),
                               rtol=0.02)


def test_bernoulli_log_likelihood_of_a_coin_flip_per_pixel():
    images = jnp.zeros((2, 28, 28, 1)).at[1].set(1.0)
    np.testing.assert_allclose(vae.bernoulli_log_likelihood(jnp.zeros((2, 28, 28, 1)), images),
                               [-784 * np.log(2)] * 2, rtol=1e-5)  # a float32 sum of 784 terms: 1.4e-6 off on AVX2
    confident = vae.bernoulli_log_likelihood(jnp.full((1, 28, 28, 1), 10.0), images[1:])
    np.testing.assert_allclose(confident, [-784 * np.log1p(np.exp(-10.0))], rtol=1e-5)


def test_binarise_keeps_the_brightness_on_average():
    images = jnp.full((200, 28, 28, 1), 0.5)  # brightness (0.5 + 1)/2 = 0.75
    binary = vae.binarise(jax.random.key(2), images)
    assert set(np.unique(binary)) == {0.0, 1.0} and abs(float(binary.mean()) - 0.75) < 0.01


def test_elbo_is_reconstruction_minus_kl_and_below_the_importance_weighted_bound(state, data_dir):
    images, _ = data.load_mnist("test", data_dir)
    binary = vae.binarise(jax.random.key(3), images[:200])
    elbo, reconstruction, kl = vae.elbo_terms(state, state.params, binary, jax.random.key(4))
    np.testing.assert_allclose(elbo, reconstruction - kl, rtol=1e-6)
    assert np.all(np.asarray(kl) >= 0)
    one_sample = vae.importance_weighted_bound(state, binary, jax.random.key(5), samples=1)
    many_samples = vae.importance_weighted_bound(state, binary, jax.random.key(6), samples=32)
    # K = 1 estimates the same expectation as the ELBO; more samples can only tighten the bound
    np.testing.assert_allclose(float(one_sample.mean()), float(elbo.mean()), rtol=0.01)
    assert float(many_samples.mean()) > float(one_sample.mean())


def test_a_short_training_run_raises_the_elbo(state, data_dir):
    images, _ = data.load_mnist("test", data_dir)
    test_binary = vae.binarise(jax.random.key(7), images[-1000:])
    before = vae.evaluate_elbo(state, test_binary, jax.random.key(8))["elbo"]
    trained, metrics = vae.train(state, images[:-1000], jax.random.key(9), steps=150, batch_size=64, progress=False)
    after = vae.evaluate_elbo(trained, test_binary, jax.random.key(10))["elbo"]
    assert metrics["elbo"].shape == (150,) and after > before + 200  # ≈ −545 nats at the start
    samples = vae.sample(trained, jax.random.key(11), 4)
    assert samples.shape == (4, 28, 28, 1) and float(jnp.abs(samples).max()) <= 1.0
    assert vae.encode(trained, images[:3]).shape == (3, 8)


def test_train_command_writes_a_loadable_vae(tmp_path, data_dir):
    out = tmp_path / "vae.ckpt"
    result = train.main(["vae", "--epochs", "0.01", "--latent-dim", "4", "--data-dir", str(data_dir),
                         "--out", str(out)])
    assert result["test_elbo"] == pytest.approx(result["test_reconstruction"] - result["test_kl"], abs=0.02)
    untrained = vae.make_vae(jax.random.key(12), 4)
    loaded, config = pretrained.load_players(out, {"vae": untrained})
    assert config["latent_dim"] == 4 and config["test_elbo"] == result["test_elbo"]
    # the loaded weights are the trained ones: their ELBO on the test digits is the recorded one (10,000 digits:
    # another binarisation and ε move the mean by a fraction of a nat), and above the untrained model's (9 steps: +28)
    images, _ = data.load_mnist("test", data_dir)
    binary = vae.binarise(jax.random.key(15), images)
    loaded_elbo = vae.evaluate_elbo(loaded["vae"], binary, jax.random.key(16))["elbo"]
    untrained_elbo = vae.evaluate_elbo(untrained, binary, jax.random.key(16))["elbo"]
    assert abs(loaded_elbo - result["test_elbo"]) < 1.5 and loaded_elbo > untrained_elbo + 10, (
        loaded_elbo, result["test_elbo"], untrained_elbo)


def test_shipped_vae_loads_with_the_elbo_it_recorded(data_dir):
    state, config = pretrained.load_vae()
    images, _ = data.load_mnist("test", data_dir)
    binary = vae.binarise(jax.random.key(13), images[:1000])
    elbo = vae.evaluate_elbo(state, binary, jax.random.key(14))["elbo"]
    assert abs(elbo - config["test_elbo"]) < 5.0  # the recorded value is over all 10,000 test digits
