import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

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
