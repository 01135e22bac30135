"""The CPU kernels (custom-VJP and matrix-product convolutions) against JAX's autodiff of the stock ones."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gan_lessons import cpu_kernels
from gan_lessons.cpu_kernels import (
    _adjoint_convolution,
    conv_transpose,
    conv_transpose_phases,
    conv_transpose_product,
    conv_transpose_reference,
    strided_convolution,
    strided_convolution_product,
    transposed_form,
)
from gan_lessons.losses import r1_penalty
from gan_lessons.models import ConvTranspose, make_dcgan
from gan_lessons.training import TrainState, dcgan_optimizer


# out_features 1 takes the product forward, 4 the stock one, 16 the phase-by-phase one (``transposed_form``)
@pytest.mark.parametrize("out_features", [1, 4, 16])
@pytest.mark.parametrize("stride, kernel_size, side", [(1, 5, 7), (2, 5, 7), (2, 4, 14), (2, 3, 5)])
def test_forward_and_gradients_match_the_stock_layer(stride, kernel_size, side, out_features):
    x_key, w_key, g_key = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(x_key, (2, side, side, 6))
    kernel = jax.random.normal(w_key, (kernel_size, kernel_size, 6, out_features)) * 0.1
    strides = (stride, stride)
    y = conv_transpose(x, kernel, strides)
    assert y.shape == (2, side * stride, side * stride, out_features)
    np.testing.assert_allclose(y, conv_transpose_reference(x, kernel, strides), atol=1e-6)
    cotangent = jax.random.normal(g_key, y.shape)

    def gradients(function):
        return jax.grad(lambda x, k: jnp.sum(function(x, k, strides) * cotangent), argnums=(0, 1))(x, kernel)

    for fast, stock in zip(gradients(conv_transpose), gradients(conv_transpose_reference)):
        np.testing.assert_allclose(fast, stock, rtol=1e-4, atol=1e-4)


def test_it_is_the_adjoint_of_a_strided_convolution():
    x_key, w_key, z_key = jax.random.split(jax.random.key(1), 3)
    x = jax.random.normal(x_key, (1, 7, 7, 3))
    kernel = jax.random.normal(w_key, (5, 5, 3, 2))
    z = jax.random.normal(z_key, (1, 14, 14, 2))
    lhs = jnp.sum(conv_transpose(x, kernel, (2, 2)) * z)  # ⟨Aᵀx, z⟩
    rhs = jnp.sum(x * _adjoint_convolution(z, jnp.swapaxes(kernel, 2, 3), (2, 2)))  # ⟨x, Az⟩
    assert np.isclose(lhs, rhs, rtol=1e-4)


def test_g_s_layer_agrees_with_and_without_the_cpu_kernels():
    fast = ConvTranspose(3, 2, 4, 2, cpu_kernels=True, rngs=nnx.Rngs(0))
    stock = ConvTranspose(3, 2, 4, 2, cpu_kernels=False, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(2), (2, 7, 7, 3))
    loss = lambda model: jnp.sum(model(x) ** 2)
    np.testing.assert_allclose(fast(x), stock(x), atol=1e-6)
    fast_gradient, stock_gradient = nnx.grad(loss)(fast).kernel[...], nnx.grad(loss)(stock).kernel[...]
    np.testing.assert_allclose(fast_gradient, stock_gradient, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("stride, kernel_size, side", [(2, 4, 7), (2, 5, 7), (2, 3, 5), (2, 2, 6), (3, 5, 4)])
def test_phases_give_the_stock_transposed_convolution(stride, kernel_size, side):
    x_key, w_key = jax.random.split(jax.random.key(3))
    x = jax.random.normal(x_key, (2, side, side, 5))
    kernel = jax.random.normal(w_key, (kernel_size, kernel_size, 5, 3))
    strides = (stride, stride)
    np.testing.assert_allclose(conv_transpose_phases(x, kernel, strides),
                               conv_transpose_reference(x, kernel, strides), atol=2e-5)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="reads XLA:CPU's compiled program (a GPU's are cuDNN calls)")
def test_phases_multiply_no_inserted_zeros():
    """The point of the phase form: no convolution over a zero-dilated input (XLA's lhs_dilate) is left."""
    x, kernel = jnp.ones((2, 7, 7, 6)), jnp.ones((4, 4, 6, 16))

    def compiled_text(function):
        return jax.jit(function, static_argnums=2).lower(x, kernel, (2, 2)).compile().as_text()

    assert "lhs_dilate" in compiled_text(conv_transpose_reference)
    phases = compiled_text(conv_transpose_phases)
    assert "lhs_dilate" not in phases and phases.count("convolution(") == 4


def test_each_transposed_convolution_takes_the_form_measured_fastest():
    assert transposed_form((4, 4, 32, 1), (2, 2)) == "product"  # G's one-channel output layer
    assert transposed_form((4, 4, 64, cpu_kernels.PHASES_MIN_OUT_FEATURES), (2, 2)) == "phases"
    assert transposed_form((4, 4, 64, 32), (2, 2)) == "phases"
    assert transposed_form((4, 4, 64, 4), (2, 2)) == "stock"  # between the two thresholds
    assert transposed_form((5, 5, 256, 128), (1, 1)) == "stock"  # stride 1: an ordinary convolution
    assert transposed_form((1, 1, 8, 1), (2, 2)) == "stock"  # a kernel smaller than the stride
    assert cpu_kernels.strided_form(1, (2, 2)) == "product"  # D's one-channel input
    assert cpu_kernels.strided_form(16, (2, 2)) == "stock"  # D's second convolution; G's input gradients
    assert cpu_kernels.strided_form(1, (1, 1)) == "stock"  # stride 1: nothing to gather

    def forward_text(out_features):
        kernel = jnp.ones((4, 4, 6, out_features))
        return jax.jit(conv_transpose, static_argnums=2).lower(jnp.ones((2, 7, 7, 6)), kernel, (2, 2)).as_text()

    assert "lhs_dilate = [2, 2]" not in forward_text(cpu_kernels.PHASES_MIN_OUT_FEATURES)
    assert "lhs_dilate = [2, 2]" in forward_text(4)
    assert "convolution" not in forward_text(1)  # one output channel: a matrix product, no convolution


@pytest.mark.parametrize("stride, kernel_size, side", [(2, 4, 7), (2, 5, 7), (2, 3, 5), (2, 2, 6), (3, 5, 4)])
@pytest.mark.parametrize("channels", [1, 3])
def test_product_forms_give_xla_s_convolutions(stride, kernel_size, side, channels):
    """The transposed convolution with ``channels`` outputs, the strided one with ``channels`` inputs."""
    x_key, w_key, z_key = jax.random.split(jax.random.key(7), 3)
    x = jax.random.normal(x_key, (2, side, side, 5))
    kernel = jax.random.normal(w_key, (kernel_size, kernel_size, 5, channels))
    strides = (stride, stride)
    np.testing.assert_allclose(conv_transpose_product(x, kernel, strides),
                               conv_transpose_reference(x, kernel, strides), atol=2e-5)
    for index, (height, width) in enumerate([(side * stride, side * stride), (side * stride + 1, side * stride - 1)]):
        z = jax.random.normal(jax.random.fold_in(z_key, index), (2, height, width, channels))  # odd sizes too
        kernel_hwoi = jnp.swapaxes(kernel, 2, 3)  # (kh, kw, channels, 5)
        np.testing.assert_allclose(strided_convolution_product(z, kernel_hwoi, strides),
                                   _lax_convolution(z, kernel_hwoi, strides), atol=2e-5)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="reads XLA:CPU's compiled program (a GPU's calls cuBLAS)")
def test_a_one_channel_image_side_runs_as_a_matrix_product():
    """The point of the product forms: XLA:CPU's convolution kernels do not run at all."""
    def compiled_text(function, *args):
        return jax.jit(function, static_argnums=2).lower(*args).compile().as_text()

    one_channel_output = compiled_text(conv_transpose, jnp.ones((2, 14, 14, 32)), jnp.ones((4, 4, 32, 1)), (2, 2))
    one_channel_input = compiled_text(_adjoint_convolution, jnp.ones((2, 28, 28, 1)), jnp.ones((4, 4, 1, 16)), (2, 2))
    for text in (one_channel_output, one_channel_input):
        assert "convolution(" not in text and ("dot(" in text or "dot_general" in text or "ynn" in text)


def _lax_convolution(x, kernel, strides, padding="SAME"):
    dimensions = jax.lax.conv_dimension_numbers(x.shape, kernel.shape, ("NHWC", "HWIO", "NHWC"))
    return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=dimensions)


def _ours(x, kernel, strides, padding="SAME"):
    dimensions = jax.lax.conv_dimension_numbers(x.shape, kernel.shape, ("NHWC", "HWIO", "NHWC"))
    return strided_convolution(x, kernel, strides, padding, dimension_numbers=dimensions)


# in_features 16: the input gradient takes the phase form; 3: the stock transposed convolution; 1: forward and
# input gradient both take the product form. Stride 1 and VALID padding are passed straight to lax.
@pytest.mark.parametrize("in_features", [1, 3, 16])
@pytest.mark.parametrize("stride, kernel_size, side, padding", [
    (2, 4, 14, "SAME"), (2, 5, 14, "SAME"), (2, 3, 10, "SAME"), (1, 3, 6, "SAME"), (2, 4, 14, "VALID")])
def test_strided_convolution_gives_lax_and_its_gradients(in_features, stride, kernel_size, side, padding):
    x_key, w_key, g_key = jax.random.split(jax.random.key(4), 3)
    x = jax.random.normal(x_key, (2, side, side, in_features))
    kernel = jax.random.normal(w_key, (kernel_size, kernel_size, in_features, 5)) * 0.1
    strides = (stride, stride)
    y = _ours(x, kernel, strides, padding)
    np.testing.assert_allclose(y, _lax_convolution(x, kernel, strides, padding), atol=1e-6)
    cotangent = jax.random.normal(g_key, y.shape)

    def gradients(function):
        return jax.grad(lambda x, k: jnp.sum(function(x, k, strides, padding) * cotangent), argnums=(0, 1))(x, kernel)

    for ours, stock in zip(gradients(_ours), gradients(_lax_convolution)):
        np.testing.assert_allclose(ours, stock, rtol=1e-4, atol=1e-5)


def test_the_discriminator_s_input_gradient_and_r1_agree_with_lax():
    """D's convolutions use ``strided_convolution``; R1 differentiates D's input gradient a second time."""
    _, discriminator = make_dcgan("cpu", jax.random.key(5), cpu_kernels=True)
    assert all(conv.conv_general_dilated is strided_convolution for conv in discriminator.convs)
    ours = TrainState.create(discriminator, dcgan_optimizer())
    _, plain = make_dcgan("cpu", jax.random.key(5), cpu_kernels=False)  # the same parameters, plain nnx.Conv
    assert all(conv.conv_general_dilated is jax.lax.conv_general_dilated for conv in plain.convs)
    stock = TrainState.create(plain, dcgan_optimizer())
    real = jax.random.uniform(jax.random.key(6), (4, 28, 28, 1), minval=-1.0, maxval=1.0)

    def penalty_gradient(state):
        gradient = jax.grad(lambda params: r1_penalty(state, params, state.batch_stats, real))(state.params)
        return jax.tree.leaves(gradient)

    ours_gradient, stock_gradient = penalty_gradient(ours), penalty_gradient(stock)
    scale = max(float(jnp.max(jnp.abs(leaf))) for leaf in stock_gradient)
    # atol relative to the largest entry: the bias before BatchNorm has a true gradient of 0, so only rounding
    for a, b in zip(ours_gradient, stock_gradient):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)
