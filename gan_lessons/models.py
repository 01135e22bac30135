"""Generators and discriminators: an MLP pair and a DCGAN pair with two sizes.

Every generator maps a latent batch z (B, latent_dim) to samples; every
discriminator maps samples to one *logit* per example (B,) — the losses apply
the sigmoid themselves, which is numerically stable — and exposes
``features(x)``, its intermediate activations, for the feature-learning chapters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from gan_lessons import cpu_kernels as kernels

BATCHNORM_MOMENTUM = 0.9  # running averages settle within a few hundred steps
DCGAN_INIT = nnx.initializers.normal(0.02)  # Radford et al. 2015, §4: weights ~ N(0, 0.02)


def use_cpu_kernels(cpu_kernels: bool | None = None) -> bool:
    """The models' one speed switch: the course's CPU kernels (``cpu_kernels.py``) or the plain layers.

    ``None`` (every model's default): the kernels where JAX runs on a CPU, where they train the DCGAN faster
    (benchmarks/README.md), and the plain layers on a GPU or TPU. Both compute the same functions, so a
    checkpoint trained with either loads into either.
    """
    return jax.default_backend() == "cpu" if cpu_kernels is None else bool(cpu_kernels)


LEAKY_SLOPE = 0.2  # DCGAN's slope for the discriminator


def leaky_relu(x, slope: float = LEAKY_SLOPE):
    return jax.nn.leaky_relu(x, negative_slope=slope)


def _normalisation_wrapper(norm: str, allowed: tuple[str, ...], rngs: nnx.Rngs):
    """The function that wraps each of D's layers: the layer itself, or the layer under spectral normalisation.

    ``nnx.SpectralNorm`` (Miyato et al. 2018) divides the weight by σ_max estimated with one power
    iteration per call in training mode; its vector u is kept between calls in an ``nnx.BatchStat``,
    so it travels with BatchNorm's statistics in the player's ``batch_stats``.
    """
    if norm not in allowed:
        raise ValueError(f"norm must be one of {allowed}, got {norm!r}")
    if norm == "spectral":
        return lambda layer: nnx.SpectralNorm(layer, rngs=rngs)
    return lambda layer: layer


# ------------------------------------------------------------------------ MLP


class MLPGenerator(nnx.Module):
    """z (B, latent_dim) → samples (B, *output_shape): Dense layers (ReLU by default), then a linear or tanh output."""

    def __init__(self, latent_dim, output_shape, hidden=(128, 128), tanh_output=False,
                 activation=jax.nn.relu, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.activation = activation
        self.output_shape = tuple(output_shape)
        self.tanh_output = tanh_output
        sizes = (latent_dim, *hidden)
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        output_size = 1
        for size in self.output_shape:
            output_size *= size
        self.output = nnx.Linear(sizes[-1], output_size, rngs=rngs)

    def __call__(self, z):
        h = z  # (B, latent_dim)
        for layer in self.hidden:
            h = self.activation(layer(h))  # (B, hidden[i])
        x = self.output(h)  # (B, prod(output_shape))
        x = jnp.tanh(x) if self.tanh_output else x
        return x.reshape(z.shape[0], *self.output_shape)  # (B, *output_shape)


class MLPDiscriminator(nnx.Module):
    """samples (B, *input_shape) → logits (B,): flatten, Dense-LeakyReLU layers, one linear logit.

    ``norm="spectral"`` divides every weight matrix by its largest singular value (``nnx.SpectralNorm``).
    """

    def __init__(self, input_shape, hidden=(128, 128), norm: str = "none", *, rngs: nnx.Rngs):
        wrap = _normalisation_wrapper(norm, ("none", "spectral"), rngs)
        input_size = 1
        for size in input_shape:
            input_size *= size
        sizes = (input_size, *hidden)
        self.hidden = nnx.List([wrap(nnx.Linear(a, b, rngs=rngs)) for a, b in zip(sizes[:-1], sizes[1:])])
        self.output = wrap(nnx.Linear(sizes[-1], 1, rngs=rngs))

    def features(self, x):
        """The activations of every hidden layer: a list of (B, hidden[i])."""
        h = x.reshape(x.shape[0], -1)  # (B, prod(input_shape)): images must be flattened for Dense
        activations = []
        for layer in self.hidden:
            h = leaky_relu(layer(h))  # (B, hidden[i])
            activations.append(h)
        return activations

    def __call__(self, x):
        activations = self.features(x)
        h = activations[-1] if activations else x.reshape(x.shape[0], -1)  # no hidden layer: a linear D
        return self.output(h)[:, 0]  # (B,)


# ---------------------------------------------------------------------- DCGAN


@dataclass(frozen=True)
class DCGANConfig:
    """The sizes of a DCGAN for 28×28×1 images.

    The generator projects z to a (7, 7, projection_channels) block, then each
    entry (channels, stride) of ``generator_layers`` is a transposed convolution;
    the last one has 1 channel and a tanh. The discriminator has one stride-2
    convolution per entry of ``discriminator_channels``, then a Dense logit; its
    LeakyReLUs have slope ``leaky_slope`` (DCGAN's 0.2).
    """

    name: str
    latent_dim: int
    projection_channels: int
    generator_layers: tuple[tuple[int, int], ...]
    discriminator_channels: tuple[int, ...]
    kernel_size: int
    leaky_slope: float = LEAKY_SLOPE


# The TensorFlow DCGAN tutorial's model (https://www.tensorflow.org/tutorials/generative/dcgan): Dense → 7×7×256,
# ConvT 5×5 to 128 (stride 1), to 64 (2), to 1 (2); D: Conv 5×5 to 64 (2), to 128 (2).
PAPER = DCGANConfig("paper", 100, 256, ((128, 1), (64, 2), (1, 2)), (64, 128), 5)
# A quarter of G's projection channels, half its channels at 14×14, a quarter of D's channels, 4×4 kernels and
# no stride-1 layer.
CPU = DCGANConfig("cpu", 100, 64, ((32, 2), (1, 2)), (16, 32), 4)
CONFIGS = {config.name: config for config in (PAPER, CPU)}


class ConvTranspose(nnx.Module):
    """G's upsampling layer: a SAME transposed convolution (stride s multiplies height and width by s).

    ``cpu_kernels``: the plain ``lax.conv_transpose`` (``cpu_kernels.conv_transpose_reference``, differentiated by
    JAX's autodiff), or ``cpu_kernels.conv_transpose`` (the same function with a hand-written backward pass);
    see ``use_cpu_kernels``.
    """

    def __init__(self, in_features, out_features, kernel_size, strides=1, *, use_bias=True,
                 kernel_init=DCGAN_INIT, cpu_kernels: bool | None = None, rngs: nnx.Rngs):
        self.strides = (strides, strides)
        self.cpu_kernels = use_cpu_kernels(cpu_kernels)
        shape = (kernel_size, kernel_size, in_features, out_features)
        self.kernel = nnx.Param(kernel_init(rngs.params(), shape))
        self.bias = nnx.Param(jnp.zeros((out_features,))) if use_bias else None

    def __call__(self, x):
        function = kernels.conv_transpose if self.cpu_kernels else kernels.conv_transpose_reference
        y = function(x, self.kernel[...], self.strides)
        return y if self.bias is None else y + self.bias[...]


class DCGANGenerator(nnx.Module):
    """z (B, latent_dim) → images (B, 28, 28, 1) in [-1, 1].

    Shapes for ``paper`` (``cpu`` in brackets):
        Dense + BN + ReLU    (B, 7·7·256)   [(B, 7·7·64)]   → reshape (B, 7, 7, 256) [(B, 7, 7, 64)]
        ConvT s1 + BN + ReLU (B, 7, 7, 128)
        ConvT s2 + BN + ReLU (B, 14, 14, 64) [(B, 14, 14, 32)]
        ConvT s2 + tanh      (B, 28, 28, 1)  [(B, 28, 28, 1)]

    ``batch_norm=False`` drops every BatchNorm (and gives the layers biases instead): DCGAN §3 found that
    without it deep generators collapse all samples to a single point; chapter 06 shows it.
    ``tanh_output=False`` returns the last layer's raw values: the VAE decoder uses them as Bernoulli logits.
    """

    def __init__(self, config: DCGANConfig = CPU, *, cpu_kernels: bool | None = None, batch_norm: bool = True,
                 tanh_output: bool = True, rngs: nnx.Rngs):
        self.config = config
        self.latent_dim = config.latent_dim
        self.batch_norm = batch_norm
        self.tanh_output = tanh_output
        c0 = config.projection_channels
        # without BatchNorm the layers need their own biases
        self.project = nnx.Linear(config.latent_dim, 7 * 7 * c0, use_bias=not batch_norm, kernel_init=DCGAN_INIT,
                                  rngs=rngs)
        if batch_norm:
            self.project_norm = nnx.BatchNorm(7 * 7 * c0, momentum=BATCHNORM_MOMENTUM, rngs=rngs)
        channels = [c0] + [c for c, _ in config.generator_layers]
        self.upsample = nnx.List([
            ConvTranspose(c_in, c_out, config.kernel_size, stride, use_bias=(c_out == 1 or not batch_norm),
                          cpu_kernels=cpu_kernels, rngs=rngs)
            for c_in, (c_out, stride) in zip(channels[:-1], config.generator_layers)
        ])
        # BatchNorm after every transposed convolution except the output (DCGAN §3)
        self.norms = nnx.List([
            nnx.BatchNorm(c, momentum=BATCHNORM_MOMENTUM, rngs=rngs) for c in channels[1:-1] if batch_norm
        ])

    def __call__(self, z):
        h = self.project(z)  # (B, 7·7·c0)
        h = jax.nn.relu(self.project_norm(h) if self.batch_norm else h)
        h = h.reshape(z.shape[0], 7, 7, self.config.projection_channels)  # (B, 7, 7, c0)
        for index, layer in enumerate(self.upsample[:-1]):
            h = layer(h)  # (B, H·s, W·s, c): see the class docstring
            h = jax.nn.relu(self.norms[index](h) if self.batch_norm else h)
        h = self.upsample[-1](h)  # (B, 28, 28, 1)
        return jnp.tanh(h) if self.tanh_output else h  # images in [-1, 1], or raw values (a VAE's logits)


class DCGANDiscriminator(nnx.Module):
    """images (B, 28, 28, 1) → logits (B,).

    Shapes for ``paper`` (``cpu`` in brackets):
        Conv s2 + LeakyReLU       (B, 14, 14, 64) [(B, 14, 14, 16)]   no BatchNorm on the input layer
        Conv s2 + BN + LeakyReLU  (B, 7, 7, 128)  [(B, 7, 7, 32)]
        flatten + Dense           (B,)

    ``norm``: "batch" (the DCGAN recipe), "none" (what WGAN-GP asks of its critic: the gradient
    penalty is per example, and BatchNorm makes each output depend on the whole batch) or
    "spectral" (no BatchNorm; every layer spectrally normalised).
    """

    def __init__(self, config: DCGANConfig = CPU, norm: str = "batch", input_channels: int = 1, *,
                 cpu_kernels: bool | None = None, rngs: nnx.Rngs):
        self.config = config
        self.batch_norm = norm == "batch"
        wrap = _normalisation_wrapper(norm, ("batch", "none", "spectral"), rngs)
        channels = (input_channels, *config.discriminator_channels)
        k = config.kernel_size
        # plain nnx.Conv, or the same convolution with a faster input gradient on a CPU (see use_cpu_kernels)
        convolution = kernels.strided_convolution if use_cpu_kernels(cpu_kernels) else lax.conv_general_dilated
        self.convs = nnx.List([
            wrap(nnx.Conv(c_in, c_out, (k, k), strides=2, kernel_init=DCGAN_INIT, rngs=rngs,
                          conv_general_dilated=convolution))
            for c_in, c_out in zip(channels[:-1], channels[1:])
        ])
        self.norms = nnx.List([
            nnx.BatchNorm(c, momentum=BATCHNORM_MOMENTUM, rngs=rngs) for c in channels[2:] if self.batch_norm
        ])
        side = 28 // 2 ** len(self.convs)
        self.output = wrap(nnx.Linear(side * side * channels[-1], 1, kernel_init=DCGAN_INIT, rngs=rngs))

    def features(self, x):
        """The activation after each convolution: [(B, 14, 14, c1), (B, 7, 7, c2)]."""
        slope = self.config.leaky_slope
        h = leaky_relu(self.convs[0](x), slope)  # (B, 14, 14, c1)
        activations = [h]
        for index, conv in enumerate(self.convs[1:]):
            h = conv(h)  # (B, H/2, W/2, c)
            h = leaky_relu(self.norms[index](h) if self.batch_norm else h, slope)
            activations.append(h)
        return activations

    def __call__(self, x):
        h = self.features(x)[-1]  # (B, 7, 7, c2)
        return self.output(h.reshape(x.shape[0], -1))[:, 0]  # (B,)


# ---------------------------------------------------------- conditional DCGAN


def one_hot_maps(labels, classes: int, height: int = 28, width: int = 28):
    """labels (B,) → (B, height, width, classes): each label's one-hot vector repeated at every pixel."""
    one_hot = jax.nn.one_hot(labels, classes)  # (B, classes)
    return jnp.broadcast_to(one_hot[:, None, None, :], (labels.shape[0], height, width, classes))


class ConditionalDCGANGenerator(nnx.Module):
    """(z (B, latent_dim), labels (B,)) → images (B, 28, 28, 1) of the requested classes.

    Mirza & Osindero (2014): the label, one-hot, joins z at the input, so every layer knows which digit
    to draw:  [z, one_hot(y)] (B, latent_dim + classes) → the DCGAN generator (see ``DCGANGenerator``).
    """

    def __init__(self, config: DCGANConfig = CPU, classes: int = 10, *, cpu_kernels: bool | None = None,
                 rngs: nnx.Rngs):
        self.config = config
        self.latent_dim = config.latent_dim
        self.classes = classes
        widened = DCGANConfig(f"{config.name}+{classes}", config.latent_dim + classes, config.projection_channels,
                              config.generator_layers, config.discriminator_channels, config.kernel_size)
        self.body = DCGANGenerator(widened, cpu_kernels=cpu_kernels, rngs=rngs)

    def __call__(self, z, labels):
        inputs = jnp.concatenate([z, jax.nn.one_hot(labels, self.classes)], axis=1)  # (B, latent_dim + classes)
        return self.body(inputs)  # (B, 28, 28, 1)


class HiddenLayerConditionalGenerator(nnx.Module):
    """(z, labels) → images: ``ConditionalDCGANGenerator`` with a Dense layer of ``hidden`` units (BatchNorm, ReLU)
    before its projection, as InfoGAN's MNIST generator (Chen et al. 2016, C.1: FC 1024 → FC 7·7·128 → ConvT 64 →
    ConvT 1):  [z, one_hot(y)] → Dense(hidden) → the DCGAN generator.
    """

    def __init__(self, config: DCGANConfig, classes: int = 10, hidden: int = 1024, *, rngs: nnx.Rngs):
        self.latent_dim, self.classes = config.latent_dim, classes
        self.hidden = nnx.Linear(config.latent_dim + classes, hidden, use_bias=False, kernel_init=DCGAN_INIT,
                                 rngs=rngs)
        self.hidden_norm = nnx.BatchNorm(hidden, momentum=BATCHNORM_MOMENTUM, rngs=rngs)
        self.body = DCGANGenerator(replace(config, name=f"{config.name}+{hidden}", latent_dim=hidden), rngs=rngs)

    def __call__(self, z, labels):
        inputs = jnp.concatenate([z, jax.nn.one_hot(labels, self.classes)], axis=1)  # (B, latent_dim + classes)
        return self.body(jax.nn.relu(self.hidden_norm(self.hidden(inputs))))  # (B, 28, 28, 1)


class ConditionalDCGANDiscriminator(nnx.Module):
    """(images (B, 28, 28, 1), labels (B,)) → logits (B,): "is this a real image *of this class*?"

    Two ways to give D the label (``conditioning``):

    * "input": the one-hot label enters as extra input channels, (B, 28, 28, 1 + classes);
    * "projection" (Miyato & Koyama 2018): the label meets D's last features φ(x) (B, 7·7·c2) through a
      learned embedding e_y: ℓ(x, y) = w·φ(x) + b + e_y·φ(x). The class term is an inner product, so D
      scores how well the image's features fit *this* class, on top of how real they look.

    Either way the rest is the DCGAN discriminator (``DCGANDiscriminator``).
    """

    def __init__(self, config: DCGANConfig = CPU, classes: int = 10, norm: str = "batch",
                 conditioning: str = "input", *, cpu_kernels: bool | None = None, rngs: nnx.Rngs):
        if conditioning not in ("input", "projection"):
            raise ValueError(f"conditioning must be 'input' or 'projection', got {conditioning!r}")
        self.classes = classes
        self.conditioning = conditioning
        input_channels = 1 + classes if conditioning == "input" else 1
        self.body = DCGANDiscriminator(config, norm, input_channels=input_channels, cpu_kernels=cpu_kernels,
                                       rngs=rngs)
        if conditioning == "projection":
            side = 28 // 2 ** len(config.discriminator_channels)
            self.class_embedding = nnx.Embed(classes, side * side * config.discriminator_channels[-1],
                                             embedding_init=DCGAN_INIT, rngs=rngs)

    def inputs_with_labels(self, x, labels):
        if self.conditioning == "projection":
            return x  # the label enters at the end
        return jnp.concatenate([x, one_hot_maps(labels, self.classes, *x.shape[1:3])], axis=-1)  # (B, 28, 28, 11)

    def features(self, x, labels):
        return self.body.features(self.inputs_with_labels(x, labels))

    def __call__(self, x, labels):
        h = self.features(x, labels)[-1].reshape(x.shape[0], -1)  # φ(x): (B, 7·7·c2)
        logits = self.body.output(h)[:, 0]  # (B,)
        if self.conditioning == "projection":
            logits = logits + jnp.sum(self.class_embedding(labels) * h, axis=1)  # + e_y·φ(x)
        return logits


def make_conditional_dcgan(config: DCGANConfig | str, key: jax.Array, classes: int = 10,
                           cpu_kernels: bool | None = None, conditioning: str = "input"):
    """A class-conditional (generator, discriminator) pair, initialised from two keys split off ``key``.

    ``conditioning``: how D gets the label, "input" or "projection" (see ``ConditionalDCGANDiscriminator``).
    """
    config = CONFIGS[config] if isinstance(config, str) else config
    generator_key, discriminator_key = jax.random.split(key)
    generator = ConditionalDCGANGenerator(config, classes, cpu_kernels=cpu_kernels, rngs=nnx.Rngs(generator_key))
    discriminator = ConditionalDCGANDiscriminator(config, classes, conditioning=conditioning, cpu_kernels=cpu_kernels,
                                                  rngs=nnx.Rngs(discriminator_key))
    return generator, discriminator


# -------------------------------------------- GANs that recover a latent code


class CodeHead(nnx.Module):
    """features φ (B, F) → (category logits (B, categories), noise estimate (B, noise_dim)).

    Dense 128 (with ``norm``, then BatchNorm, as InfoGAN's Q in Chen et al.'s code) + LeakyReLU of slope ``slope``,
    then two linear outputs: the head that reads a GAN's latent code back out of an image (InfoGAN's Q on D's
    features; ClusterGAN's and BiGAN's encoders on their own).
    """

    def __init__(self, feature_size: int, categories: int, noise_dim: int = 0, norm: bool = False,
                 slope: float = LEAKY_SLOPE, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(feature_size, 128, kernel_init=DCGAN_INIT, rngs=rngs)
        if norm:
            self.hidden_norm = nnx.BatchNorm(128, momentum=BATCHNORM_MOMENTUM, rngs=rngs)
        self.category_logits = nnx.Linear(128, max(categories, 1), kernel_init=DCGAN_INIT, rngs=rngs)
        self.noise = nnx.Linear(128, max(noise_dim, 1), kernel_init=DCGAN_INIT, rngs=rngs)
        self.categories, self.noise_dim, self.norm, self.slope = categories, noise_dim, norm, slope

    def hidden_activation(self, features):
        """The hidden layer's output (B, 128). (Its Dense keeps a bias before the BatchNorm, as the authors' Q.)"""
        h = self.hidden(features)
        return leaky_relu(self.hidden_norm(h) if self.norm else h, self.slope)

    def __call__(self, features):
        h = self.hidden_activation(features)  # (B, 128)
        return self.category_logits(h), self.noise(h)  # (B, categories), (B, noise_dim)


def _flat_size(config: DCGANConfig) -> int:
    side = 28 // 2 ** len(config.discriminator_channels)
    return side * side * config.discriminator_channels[-1]


class InfoGANDiscriminator(nnx.Module):
    """images (B, 28, 28, 1) → (logits (B,), category logits (B, categories), continuous codes (B, continuous)).

    Chen et al. (2016): D and the code network Q share every convolution; Q is a small head on D's
    last features φ(x) (B, 7·7·c2):
        body (``DCGANDiscriminator``) → φ(x) → Dense → ℓ(x)                 "real or fake?"
                                          └→ Dense 128 → Dense → Q(c | x)   "which code made this?"
    With ``continuous`` > 0, Q also estimates G's continuous codes c′ (the paper's two for MNIST); with 0 its
    third output is a column nothing reads. With ``hidden`` > 0, φ(x) is a Dense layer of that many units
    (BatchNorm, LeakyReLU) on the convolutions, as in the paper's MNIST model (1024), and D's logit reads it.
    ``q_norm``: Q's hidden layer has a BatchNorm too, as in the authors' code.
    """

    def __init__(self, config: DCGANConfig, categories: int = 10, norm: str = "none", continuous: int = 0,
                 hidden: int = 0, q_norm: bool = False, *, rngs: nnx.Rngs):
        if hidden and norm != "batch":
            raise ValueError(f"a hidden Dense layer comes with BatchNorm, as in the paper: norm must be 'batch' with "
                             f"hidden={hidden}, got {norm!r}")
        self.categories, self.continuous, self.hidden_units = categories, continuous, hidden
        self.body = DCGANDiscriminator(config, norm, rngs=rngs)
        if hidden:  # the body's own Dense logit then goes unused
            self.hidden = nnx.Linear(_flat_size(config), hidden, use_bias=False, kernel_init=DCGAN_INIT, rngs=rngs)
            self.hidden_norm = nnx.BatchNorm(hidden, momentum=BATCHNORM_MOMENTUM, rngs=rngs)
            self.output = nnx.Linear(hidden, 1, kernel_init=DCGAN_INIT, rngs=rngs)
        self.code_head = CodeHead(hidden or _flat_size(config), categories, continuous, q_norm, config.leaky_slope,
                                  rngs=rngs)

    def _phi(self, last_activation):
        """φ(x) from the last convolution's activation (B, 7, 7, c2): flattened, then the Dense layer if any."""
        flat = last_activation.reshape(last_activation.shape[0], -1)  # (B, 7·7·c2)
        if self.hidden_units:  # a Python branch on the model's shape
            return leaky_relu(self.hidden_norm(self.hidden(flat)), self.body.config.leaky_slope)  # (B, hidden)
        return flat

    def features(self, x):
        """D's activations [(B, 14, 14, c1), (B, 7, 7, c2)], its Dense layer's (B, hidden) if it has one, and Q's
        hidden layer (B, 128)."""
        activations = self.body.features(x)
        phi = self._phi(activations[-1])
        return [*activations, *([phi] if self.hidden_units else []), self.code_head.hidden_activation(phi)]

    def __call__(self, x):
        phi = self._phi(self.body.features(x)[-1])  # φ(x): (B, 7·7·c2), or (B, hidden)
        code_logits, estimates = self.code_head(phi)
        logits = (self.output if self.hidden_units else self.body.output)(phi)[:, 0]
        return logits, code_logits, estimates  # (B,), (B, categories), (B, continuous)


class LatentEncoder(nnx.Module):
    """images (B, 28, 28, 1) → (category logits (B, categories), noise estimate (B, noise_dim)).

    The discriminator's convolutions (no BatchNorm, so each image is encoded on its own), then a
    ``CodeHead``: ClusterGAN's encoder E(x) = (ẑ_c, ẑ_n), or with ``categories=0`` BiGAN's E(x) = ẑ.
    """

    def __init__(self, config: DCGANConfig, categories: int, noise_dim: int, *, rngs: nnx.Rngs):
        self.categories, self.noise_dim = categories, noise_dim
        self.body = DCGANDiscriminator(config, "none", rngs=rngs)  # its Dense logit goes unused
        self.code_head = CodeHead(_flat_size(config), categories, noise_dim, slope=config.leaky_slope, rngs=rngs)

    def features(self, x):
        """The convolutions' activations and the head's hidden layer (B, 128)."""
        activations = self.body.features(x)
        flat = activations[-1].reshape(x.shape[0], -1)
        return [*activations, self.code_head.hidden_activation(flat)]

    def __call__(self, x):
        return self.code_head(self.body.features(x)[-1].reshape(x.shape[0], -1))


class JointDiscriminator(nnx.Module):
    """(images (B, 28, 28, 1), codes (B, latent_dim)) → logits (B,): "is this a real (x, E(x)) pair?"

    BiGAN's D (Donahue et al. 2017) judges image and code together:
        images → the DCGAN discriminator's convolutions → φ(x) (B, 7·7·c2)
        codes  → Dense 512 + LeakyReLU                   (B, 512)
        [φ(x), h(z)] → Dense 512 + LeakyReLU → Dense      (B,)
    """

    def __init__(self, config: DCGANConfig, latent_dim: int, *, rngs: nnx.Rngs):
        self.images = DCGANDiscriminator(config, "none", rngs=rngs)  # its own Dense logit goes unused
        self.codes = nnx.Linear(latent_dim, 512, kernel_init=DCGAN_INIT, rngs=rngs)
        self.joint = nnx.Linear(_flat_size(config) + 512, 512, kernel_init=DCGAN_INIT, rngs=rngs)
        self.output = nnx.Linear(512, 1, kernel_init=DCGAN_INIT, rngs=rngs)

    def features(self, x, z):
        image_features = self.images.features(x)
        flat = image_features[-1].reshape(x.shape[0], -1)  # (B, 7·7·c2)
        slope = self.images.config.leaky_slope
        joint = leaky_relu(self.joint(jnp.concatenate([flat, leaky_relu(self.codes(z), slope)], axis=1)), slope)
        return [*image_features, joint]

    def __call__(self, x, z):
        return self.output(self.features(x, z)[-1])[:, 0]  # (B,)


def make_dcgan(config: DCGANConfig | str, key: jax.Array, cpu_kernels: bool | None = None,
               discriminator_norm: str = "batch", generator_batch_norm: bool = True):
    """A (generator, discriminator) pair, initialised from two keys split off ``key``.

    ``discriminator_norm``: "batch", "none" or "spectral" (see ``DCGANDiscriminator``);
    ``generator_batch_norm``: False drops G's BatchNorm layers (see ``DCGANGenerator``).
    """
    config = CONFIGS[config] if isinstance(config, str) else config
    generator_key, discriminator_key = jax.random.split(key)
    generator = DCGANGenerator(config, cpu_kernels=cpu_kernels, batch_norm=generator_batch_norm,
                               rngs=nnx.Rngs(generator_key))
    discriminator = DCGANDiscriminator(config, discriminator_norm, cpu_kernels=cpu_kernels,
                                       rngs=nnx.Rngs(discriminator_key))
    return generator, discriminator


def count_parameters(model: nnx.Module) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
