import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gan_lessons import models
from gan_lessons.models import CONFIGS, CPU, PAPER, MLPDiscriminator, MLPGenerator, count_parameters, make_dcgan


def test_paper_dcgan_has_the_seed_architecture():
    generator, discriminator = make_dcgan(PAPER, jax.random.key(0))
    # Dense 100→12544 (no bias), 3 BatchNorms, ConvT 5×5: 256→128, 128→64, 64→1 (+bias)
    expected_g = 100 * 12544 + 2 * 12544 + 25 * 256 * 128 + 2 * 128 + 25 * 128 * 64 + 2 * 64 + 25 * 64 + 1
    assert count_parameters(generator) == expected_g
    # Conv 5×5 1→64, 64→128 (+biases), one BatchNorm, Dense 6272→1
    expected_d = 25 * 64 + 64 + 25 * 64 * 128 + 128 + 2 * 128 + 7 * 7 * 128 + 1
    assert count_parameters(discriminator) == expected_d


def test_shapes_range_and_features():
    for config in CONFIGS.values():
        generator, discriminator = make_dcgan(config, jax.random.key(1))
        images = generator(jax.random.normal(jax.random.key(2), (4, config.latent_dim)))
        assert images.shape == (4, 28, 28, 1)
        assert float(jnp.max(jnp.abs(images))) <= 1.0  # tanh output matches data in [-1, 1]
        assert discriminator(images).shape == (4,)
        features = discriminator.features(images)
        assert [f.shape for f in features] == [
            (4, 14, 14, config.discriminator_channels[0]), (4, 7, 7, config.discriminator_channels[1])
        ]


def test_cpu_config_is_much_smaller():
    paper_g, paper_d = make_dcgan(PAPER, jax.random.key(0))
    cpu_g, cpu_d = make_dcgan(CPU, jax.random.key(0))
    assert count_parameters(cpu_g) * 5 < count_parameters(paper_g)


def test_dcgan_init_is_normal_with_std_0_02():
    generator, _ = make_dcgan(PAPER, jax.random.key(0))
    weights = np.asarray(generator.project.kernel[...])
    assert abs(weights.std() - 0.02) < 0.001 and abs(weights.mean()) < 0.001


def test_mlp_discriminator_flattens_images():
    discriminator = MLPDiscriminator((28, 28, 1), rngs=nnx.Rngs(0))
    assert discriminator(jnp.zeros((3, 28, 28, 1))).shape == (3,)
    generator = MLPGenerator(16, (28, 28, 1), tanh_output=True, rngs=nnx.Rngs(1))
    assert generator(jnp.zeros((3, 16))).shape == (3, 28, 28, 1)


def test_normalisation_options_change_only_the_normalisation_layers():
    batch_g, batch_d = make_dcgan(CPU, jax.random.key(0))
    plain_g, plain_d = make_dcgan(CPU, jax.random.key(0), discriminator_norm="none", generator_batch_norm=False)
    _, spectral_d = make_dcgan(CPU, jax.random.key(0), discriminator_norm="spectral")
    # D without BatchNorm loses one BatchNorm's scale and bias (2 × 32); spectral norm adds no parameters
    assert count_parameters(batch_d) - count_parameters(plain_d) == 2 * 32
    assert count_parameters(spectral_d) == count_parameters(plain_d)
    # G without BatchNorm: two BatchNorms (7·7·64 and 32 units) become biases on the layers before them
    assert count_parameters(batch_g) - count_parameters(plain_g) == 49 * 64 + 32
    z = jax.random.normal(jax.random.key(1), (4, 100))
    for generator, discriminator in ((plain_g, plain_d), (batch_g, spectral_d)):
        assert discriminator(generator(z)).shape == (4,)
    # without BatchNorm each sample's logit depends only on that sample
    images = plain_g(z)
    np.testing.assert_allclose(plain_d(images)[:2], plain_d(images[:2]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="norm must be one of"):
        make_dcgan(CPU, jax.random.key(0), discriminator_norm="layer")


def test_the_cpu_kernels_are_on_by_default_on_a_cpu_only(monkeypatch):
    assert models.use_cpu_kernels(True) and not models.use_cpu_kernels(False)
    monkeypatch.setattr(models.jax, "default_backend", lambda: "cpu")
    assert models.use_cpu_kernels() and make_dcgan(CPU, jax.random.key(0))[0].upsample[0].cpu_kernels
    monkeypatch.setattr(models.jax, "default_backend", lambda: "gpu")
    generator, discriminator = make_dcgan(CPU, jax.random.key(0))
    assert not models.use_cpu_kernels() and not any(layer.cpu_kernels for layer in generator.upsample)
    assert all(conv.conv_general_dilated is jax.lax.conv_general_dilated for conv in discriminator.convs)


@pytest.mark.parametrize("config", [CPU, PAPER], ids=lambda config: config.name)
def test_plain_layers_and_cpu_kernels_are_one_model(config):
    """Same parameters (a checkpoint made with either loads into either), same outputs, same gradients."""
    fast_g, fast_d = make_dcgan(config, jax.random.key(3), cpu_kernels=True)
    plain_g, plain_d = make_dcgan(config, jax.random.key(3), cpu_kernels=False)
    for fast, plain in ((fast_g, plain_g), (fast_d, plain_d)):
        fast_state, plain_state = nnx.state(fast), nnx.state(plain)
        assert jax.tree.structure(fast_state) == jax.tree.structure(plain_state)
        for a, b in zip(jax.tree.leaves(fast_state), jax.tree.leaves(plain_state)):
            np.testing.assert_array_equal(a, b)
    z = jax.random.normal(jax.random.key(4), (8, config.latent_dim))

    def loss(generator, discriminator):  # D(G(z)): gradients through both players' layers
        return jnp.mean(discriminator(generator(z)) ** 2)

    np.testing.assert_allclose(fast_d(fast_g(z)), plain_d(plain_g(z)), rtol=1e-4, atol=1e-5)
    fast_grads = nnx.grad(loss, argnums=(0, 1))(fast_g, fast_d)
    plain_grads = nnx.grad(loss, argnums=(0, 1))(plain_g, plain_d)
    # atol relative to the largest entry: a bias before BatchNorm has a true gradient of 0, so only rounding
    scale = max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(plain_grads))
    for a, b in zip(jax.tree.leaves(fast_grads), jax.tree.leaves(plain_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * scale)
