"""The course's DCGAN (both configurations), MLP GAN and InfoGAN with its real-data term written again in PyTorch,
for the benchmarks only.

Same layers, shapes and initialisation scheme as ``gan_lessons.models``, the same non-saturating losses on
logits, the same Adam (2e-4 unless told otherwise, β1 = 0.5), the same step (``gan_lessons.steps``): one D update
on a real batch and a fresh fake batch (passed through D separately), then one G update on fresh fakes. As there,
D's fakes are made with G's batch statistics but leave G's running averages alone, and G's update computes no
gradient for D's weights. PyTorch is a benchmark-only dependency (``benchmarks/requirements-torch.txt``); nothing
in the course imports this file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import torch
from torch import nn
from torch.nn import functional as F

from gan_lessons.models import DCGANConfig


def _padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) that make a PyTorch transposed convolution match XLA's SAME: out = in · stride."""
    total = kernel_size - stride  # (in − 1)·s − 2p + k + op = in·s  ⇔  2p − op = k − s
    return (total + 1) // 2, (total + 1) // 2 * 2 - total


class TorchDCGANGenerator(nn.Module):
    def __init__(self, config: DCGANConfig):
        super().__init__()
        c0, k = config.projection_channels, config.kernel_size
        self.config = config
        self.project = nn.Linear(config.latent_dim, 7 * 7 * c0, bias=False)  # (B, 7·7·c0)
        self.project_norm = nn.BatchNorm1d(7 * 7 * c0, momentum=0.1)
        channels = [c0] + [c for c, _ in config.generator_layers]
        layers = []
        for c_in, (c_out, stride) in zip(channels[:-1], config.generator_layers):
            padding, output_padding = _padding(k, stride)
            layers.append(nn.ConvTranspose2d(c_in, c_out, k, stride, padding, output_padding, bias=c_out == 1))
        self.upsample = nn.ModuleList(layers)  # (B, c, 7·s, 7·s) ... (B, 1, 28, 28)
        self.norms = nn.ModuleList(nn.BatchNorm2d(c, momentum=0.1) for c in channels[1:-1])

    def forward(self, z):
        h = F.relu(self.project_norm(self.project(z)))
        h = h.view(z.shape[0], self.config.projection_channels, 7, 7)  # NCHW, PyTorch's native layout
        for layer, norm in zip(self.upsample[:-1], self.norms):
            h = F.relu(norm(layer(h)))
        return torch.tanh(self.upsample[-1](h))  # (B, 1, 28, 28)


class TorchDCGANDiscriminator(nn.Module):
    def __init__(self, config: DCGANConfig):
        super().__init__()
        k, channels = config.kernel_size, (1, *config.discriminator_channels)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, k, 2, (k - 1) // 2) for a, b in zip(channels[:-1], channels[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm2d(c, momentum=0.1) for c in channels[2:])
        side = 28 // 2 ** len(self.convs)
        self.output = nn.Linear(side * side * channels[-1], 1)

    def features(self, x):
        h = F.leaky_relu(self.convs[0](x), 0.2)  # (B, c1, 14, 14)
        for conv, norm in zip(self.convs[1:], self.norms):
            h = F.leaky_relu(norm(conv(h)), 0.2)  # (B, c2, 7, 7)
        return h.flatten(1)  # (B, c2·7·7)

    def forward(self, x):
        return self.output(self.features(x))[:, 0]  # (B,)


class TorchMLPGenerator(nn.Module):
    def __init__(self, latent_dim=16, output_size=2, hidden=(128, 128)):
        super().__init__()
        sizes = (latent_dim, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(sizes[-1], output_size)

    def forward(self, z):
        for layer in self.hidden:
            z = F.relu(layer(z))
        return self.output(z)


class TorchMLPDiscriminator(nn.Module):
    def __init__(self, input_size=2, hidden=(128, 128)):
        super().__init__()
        sizes = (input_size, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(sizes[-1], 1)

    def forward(self, x):
        for layer in self.hidden:
            x = F.leaky_relu(layer(x), 0.2)
        return self.output(x)[:, 0]


def dcgan_init(module):
    """N(0, 0.02) for convolution and dense weights, as DCGAN (and ``gan_lessons.models.DCGAN_INIT``), and biases
    of zero, as Flax's layers start (PyTorch's own draw them from a uniform)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


@contextlib.contextmanager
def running_averages_kept(module: nn.Module):
    """``module``'s buffers (BatchNorm's running averages) put back as they were on entry when the block ends."""
    saved = [buffer.clone() for buffer in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(module.buffers(), saved):
                buffer.copy_(value)


@contextlib.contextmanager
def frozen(module: nn.Module):
    """No gradient for ``module``'s weights inside the block (gradients still flow through it); each weight's
    ``requires_grad`` as it was on entry afterwards."""
    parameters = list(module.parameters())
    flags = [parameter.requires_grad for parameter in parameters]
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in zip(parameters, flags):
            parameter.requires_grad_(flag)


def bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def d_cross_entropy(real_logits, fake_logits):
    """``gan_lessons.losses.d_loss``: label 1 for real, 0 for fake."""
    return bce(real_logits, 1.0) + bce(fake_logits, 0.0)


class TorchGAN:
    """Both players, their Adam optimisers and the training step; a variant swaps ``sample`` and the losses.

    ``learning_rate`` is D's, and G's too unless ``generator_learning_rate`` is given. As in ``gan_lessons.steps``,
    only the player being updated keeps the BatchNorm running averages of its own passes."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int, learning_rate=2e-4,
                 device: str = "cpu", generator_learning_rate=None):
        self.generator, self.discriminator = generator.to(device), discriminator.to(device)
        self.latent_dim, self.device = latent_dim, device
        g_rate = learning_rate if generator_learning_rate is None else generator_learning_rate
        self.g_optimizer = torch.optim.Adam(generator.parameters(), g_rate, betas=(0.5, 0.999))
        self.d_optimizer = torch.optim.Adam(discriminator.parameters(), learning_rate, betas=(0.5, 0.999))

    def sample(self, count: int) -> tuple:
        """G's inputs for ``count`` fakes."""
        return (torch.randn(count, self.latent_dim, device=self.device),)

    def d_loss(self, real, inputs, fake):
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)  # separate BatchNorm batches
        return d_cross_entropy(real_logits, fake_logits)

    def g_loss(self, inputs, fake):
        return bce(self.discriminator(fake), 1.0)  # non-saturating

    def step(self, real):
        inputs = self.sample(real.shape[0])
        with torch.no_grad(), running_averages_kept(self.generator):  # D's loss must not reach G
            fake = self.generator(*inputs)
        d_loss = self.d_loss(real, inputs, fake)
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimizer.step()
        inputs = self.sample(real.shape[0])
        with running_averages_kept(self.discriminator):  # put back after backward(), which reads them
            with frozen(self.discriminator):
                g_loss = self.g_loss(inputs, self.generator(*inputs))
            self.g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
        self.g_optimizer.step()
        return d_loss.detach(), g_loss.detach()


def make_torch_dcgan(config: DCGANConfig, device: str = "cpu", learning_rate=2e-4) -> TorchGAN:
    generator, discriminator = TorchDCGANGenerator(config), TorchDCGANDiscriminator(config)
    generator.apply(dcgan_init)
    discriminator.apply(dcgan_init)
    return TorchGAN(generator, discriminator, config.latent_dim, learning_rate, device)


def make_torch_mlp_gan(device: str = "cpu") -> TorchGAN:
    return TorchGAN(TorchMLPGenerator(), TorchMLPDiscriminator(), 16, learning_rate=1e-3, device=device)


# ------------------------------------------------------------- InfoGAN with its real-data term (chapter 04, §9)


class TorchInfoGANGenerator(nn.Module):
    """G(z, c): the code one-hot joins z at the input (``ConditionalDCGANGenerator``)."""

    def __init__(self, config: DCGANConfig, categories: int = 10):
        super().__init__()
        self.categories = categories
        self.body = TorchDCGANGenerator(dataclasses.replace(config, latent_dim=config.latent_dim + categories))

    def forward(self, z, codes):
        return self.body(torch.cat([z, F.one_hot(codes, self.categories).float()], dim=1))


class TorchInfoGANDiscriminator(nn.Module):
    """x → (D's logit, Q's code logits): Q is a Dense 128 + LeakyReLU head on D's flattened last activation
    (``InfoGANDiscriminator`` with BatchNorm in D, as ``make_infogan`` builds it)."""

    def __init__(self, config: DCGANConfig, categories: int = 10):
        super().__init__()
        self.body = TorchDCGANDiscriminator(config)
        features = self.body.output.in_features
        self.q_hidden, self.q_logits = nn.Linear(features, 128), nn.Linear(128, categories)

    def forward(self, x):
        phi = self.body.features(x)  # φ(x): (B, c2·7·7)
        return self.body.output(phi)[:, 0], self.q_logits(F.leaky_relu(self.q_hidden(phi), 0.2))


def random_affine(images, max_degrees=15.0, max_scale=0.1, max_shift=2.0, max_shear=0.0):
    """``gan_lessons.data.random_affine`` for NCHW tensors of 28×28 images (rows = columns, so one normalisation)."""
    count = images.shape[0]

    def uniform(*shape):
        return torch.rand(*shape, device=images.device) * 2 - 1

    angles = math.radians(max_degrees) * uniform(count)
    scales, offsets, shears = 1 + max_scale * uniform(count), max_shift * uniform(count, 2), max_shear * uniform(count)
    return affine_warp(images, angles, scales, offsets, shears)


def affine_warp(images, angles, scales, offsets, shears):
    """``gan_lessons.data.affine_warp``: output pixel p (from the centre) reads R(−θ)·S(−shear)·p / s − offset;
    bilinear, background −1. In grid_sample's normalised (column, row) coordinates."""
    cos, sin, half = torch.cos(angles) / scales, torch.sin(angles) / scales, (images.shape[-1] - 1) / 2
    theta = torch.stack([torch.stack([cos, sin - cos * shears, -offsets[:, 1] / half], 1),
                         torch.stack([-sin, cos + sin * shears, -offsets[:, 0] / half], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=True) - 1


def real_code_loss(code_logits, altered_code_logits):
    """``gan_lessons.infogan.real_code_loss``: E[H(Q(c|x))] − H(E[Q(c|x)]) − E[Σ Q(c|x) log Q(c|T(x))]."""
    log_probabilities = F.log_softmax(code_logits, dim=1)
    probabilities = log_probabilities.exp()
    conditional_entropy = -(probabilities * log_probabilities).sum(1).mean()
    marginal = probabilities.mean(0)
    marginal_entropy = -(marginal * torch.log(marginal + 1e-8)).sum()
    consistency = -(probabilities.detach() * F.log_softmax(altered_code_logits, dim=1)).sum(1).mean()
    return conditional_entropy - marginal_entropy + consistency


class TorchInfoGAN(TorchGAN):
    """``gan_lessons.infogan.train_step`` with ``information_weight`` 1: D and Q see a real batch, as many fakes
    G(z, c) and T(real); then G. Only the inputs and the losses differ from ``TorchGAN``."""

    def __init__(self, config: DCGANConfig, categories: int = 10, real_weight: float = 1.0, shear: float = 0.3,
                 learning_rates=(1e-3, 2e-4), device: str = "cpu"):
        generator = TorchInfoGANGenerator(config, categories)
        discriminator = TorchInfoGANDiscriminator(config, categories)
        generator.apply(dcgan_init)
        discriminator.apply(dcgan_init)
        g_rate, d_rate = learning_rates  # make_infogan's (G, D)
        super().__init__(generator, discriminator, config.latent_dim, d_rate, device, generator_learning_rate=g_rate)
        self.categories, self.real_weight, self.shear = categories, real_weight, shear

    def sample(self, count: int) -> tuple:
        return (torch.randn(count, self.latent_dim, device=self.device),
                torch.randint(0, self.categories, (count,), device=self.device))

    def d_loss(self, real, inputs, fake):
        (real_logits, real_code_logits), (fake_logits, fake_code_logits) = map(self.discriminator, (real, fake))
        _, altered_code_logits = self.discriminator(random_affine(real, max_shear=self.shear))
        return (d_cross_entropy(real_logits, fake_logits) + F.cross_entropy(fake_code_logits, inputs[1])
                + self.real_weight * real_code_loss(real_code_logits, altered_code_logits))

    def g_loss(self, inputs, fake):
        fake_logits, code_logits = self.discriminator(fake)
        return bce(fake_logits, 1.0) + F.cross_entropy(code_logits, inputs[1])  # non-saturating, and L_I for G
