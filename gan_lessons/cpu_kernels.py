"""The course's CPU speed kernels: convolutions whose passes XLA's CPU backend runs fast.

The models (``models.py``) use them only where ``cpu_kernels`` is on, which by default is where JAX runs on
a CPU; everywhere else, and with ``cpu_kernels=False``, the models use the plain layers (``lax`` and
``nnx.Conv`` as they come). Both compute the same functions; these only compute them faster on a CPU
(benchmarks/README.md). Nothing here is needed to understand a GAN.

A stride-s transposed convolution is the adjoint (transpose) of an ordinary
stride-s convolution A_W:

    y = A_Wᵀ x,     where  (A_W z) = conv(z, W, stride s, SAME)

so its gradients are ordinary strided convolutions too:

    ∂L/∂x = A_W g                      (a strided convolution of g = ∂L/∂y)
    ∂L/∂W = ∂/∂W ⟨A_W g, x⟩            (the weight gradient of that convolution)

because ⟨g, A_Wᵀ x⟩ = ⟨A_W g, x⟩. Autodiff of the stock transposed convolution
instead produces a convolution with a dilated *kernel* for ∂L/∂W, which
XLA:CPU runs about 20× slower than PyTorch (jax-ml/jax#23783). Writing the
backward pass by hand with ``jax.custom_vjp`` gives the same numbers (to
float32 rounding) at about twice the training speed on a CPU.

The forward pass has a waste of its own: the stock form convolves a copy of x
with s − 1 zeros between neighbours, and XLA:CPU multiplies those zeros too
(three products in four at stride 2). Written phase by phase ("sub-pixel",
Shi et al. 2016), each of the s² interleaved output grids is an ordinary
stride-1 convolution of x with a slice of the kernel, with no zeros at all:
``conv_transpose_phases``.

The discriminator's strided convolutions have the same zeros in their input
gradient, which is a transposed convolution: ``strided_convolution`` computes
it with ``conv_transpose``.

Where the image side of a layer has one channel (the generator's output,
the discriminator's input), XLA:CPU's convolution kernels, which vectorise
over channels, crawl. There each convolution is one matrix product instead:
``strided_convolution_product`` gathers the window every output reads
("im2col") and multiplies it by the kernel; ``conv_transpose_product``
multiplies each input pixel by the kernel and adds the products into the
output grid.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


# A layer whose image side has at most this many channels runs as one matrix product: the output of a
# transposed convolution, the input of a strided one. Measured on a 2-core CPU, in the whole training step of
# the `cpu` DCGAN (benchmarks/training_speed.py prints the forward times): with one channel the product forms
# make the step about 1.2× faster; D's input gradient in product form (16 channels) made it slower again.
PRODUCT_MAX_CHANNELS = 1


def _lax_strided_convolution(z, kernel_hwoi, strides):
    return lax.conv_general_dilated(z, kernel_hwoi, strides, "SAME", dimension_numbers=DIMENSIONS)


def strided_form(in_channels: int, strides) -> str:
    """How ``_adjoint_convolution`` computes a strided convolution of an input with ``in_channels`` channels:
    "product" (one matrix product) up to ``PRODUCT_MAX_CHANNELS`` channels, else "stock" (XLA's convolution)."""
    return "product" if max(strides) > 1 and in_channels <= PRODUCT_MAX_CHANNELS else "stock"


def _adjoint_convolution(z, kernel_hwoi, strides):
    """A_W z: a SAME, strided convolution from (N, H·s, W·s, out) to (N, H, W, in), in ``strided_form``'s form."""
    if strided_form(z.shape[3], strides) == "product":
        return strided_convolution_product(z, kernel_hwoi, strides)
    return _lax_strided_convolution(z, kernel_hwoi, strides)


def _same_padding(size: int, kernel_size: int, stride: int) -> tuple[int, int, int]:
    """(output size, zeros before, zeros after) of XLA's SAME padding along one axis."""
    output = -(-size // stride)
    total = max((output - 1) * stride + kernel_size - size, 0)
    return output, total // 2, total - total // 2


def strided_windows(z, kernel_size: tuple[int, int], strides):
    """Every window a SAME strided convolution reads ("im2col"): (N, H, W, C) → (N, H', W', kh·kw·C).

    Entry [n, i, j, (a·kw + b)·C + c] is the padded z[n, s·i + a, s·j + b, c]: tap (a, b) of output (i, j).
    """
    _, height, width, _ = z.shape
    (rows_out, top, bottom), (cols_out, left, right) = (
        _same_padding(height, kernel_size[0], strides[0]), _same_padding(width, kernel_size[1], strides[1]))
    padded = jnp.pad(z, ((0, 0), (top, bottom), (left, right), (0, 0)))
    row_stride, col_stride = strides
    taps = [padded[:, a:a + row_stride * rows_out:row_stride, b:b + col_stride * cols_out:col_stride]
            for a in range(kernel_size[0]) for b in range(kernel_size[1])]  # each (N, H', W', C)
    return jnp.concatenate(taps, axis=3)


def strided_convolution_product(z, kernel, strides):
    """A_W z as one matrix product:  y[n, i, j, o] = Σ_{a, b, c} windows[n, i, j, (a, b, c)] W[a, b, c, o].

    z (N, H, W, in), kernel (kh, kw, in, out) → (N, ⌈H/s⌉, ⌈W/s⌉, out). The windows hold kh·kw copies of
    z, so this pays only where z has few channels.
    """
    return strided_windows(z, kernel.shape[:2], strides) @ kernel.reshape(-1, kernel.shape[3])


def conv_transpose_reference(x, kernel, strides):
    """The stock transposed convolution (lax.conv_transpose), differentiated by JAX's autodiff.

    x: (N, H, W, in), kernel: (kh, kw, in, out) → (N, H·s, W·s, out).
    """
    # lax's kernel for the gradient-of-convolution form is the forward conv's kernel (kh, kw, out, in)
    return lax.conv_transpose(
        x, jnp.swapaxes(kernel, 2, 3), strides, "SAME", dimension_numbers=DIMENSIONS, transpose_kernel=True
    )


def _phase_taps(kernel_size: int, stride: int, phase: int):
    """Along one axis: the kernel taps that reach output phase r, in window order, and the padding of x.

    A_W's SAME padding puts p = (k − s) // 2 zeros before its input, so tap t joins input i to output
    s·i + t − p. Output s·m + r therefore reads x[m + d] through tap t = r + p − s·d: a window of x
    from m + d_min to m + d_max, padded by (−d_min, d_max) to keep m's range.
    """
    pad_before = max(kernel_size - stride, 0) // 2
    offsets = {(phase + pad_before - tap) // stride: tap for tap in range(kernel_size)
               if (phase + pad_before - tap) % stride == 0}
    low, high = min(offsets), max(offsets)
    return [offsets[d] for d in range(low, high + 1)], (-low, high)


def conv_transpose_phases(x, kernel, strides):
    """y = A_Wᵀ x computed phase by phase: for each phase (r, c) of the output,

        y[n, s·m + r, s·j + c, o] = Σ_{a, b, i} x[n, m + d_a, j + d_b, i] W[t_r(a), t_c(b), i, o]

    an ordinary stride-1 convolution of x with the taps ``_phase_taps`` gives that phase, and the s²
    phase grids are interleaved. Same numbers as ``conv_transpose_reference`` (to float32 rounding),
    without the reference's multiplications by inserted zeros. Needs kernel size ≥ stride.
    """
    def phase(row_taps, row_padding, col_taps, col_padding):
        phase_kernel = kernel[jnp.array(row_taps)][:, jnp.array(col_taps)]  # (taps_r, taps_c, in, out)
        return lax.conv_general_dilated(x, phase_kernel, (1, 1), (row_padding, col_padding),
                                        dimension_numbers=DIMENSIONS)  # (N, H, W, out)

    return _interleaved_phases(phase, x.shape, kernel.shape, strides)


def _interleaved_phases(phase, x_shape, kernel_shape, strides):
    """The s² output grids ``phase(row_taps, row_padding, col_taps, col_padding)`` (each (N, H, W, out), with
    ``_phase_taps``'s taps and padding), interleaved into (N, H·s, W·s, out)."""
    batch, height, width, _ = x_shape
    (stride_rows, stride_cols), out_features = strides, kernel_shape[3]
    rows = []
    for r in range(stride_rows):
        row_taps, row_padding = _phase_taps(kernel_shape[0], stride_rows, r)
        phases = [phase(row_taps, row_padding, *_phase_taps(kernel_shape[1], stride_cols, c))
                  for c in range(stride_cols)]
        rows.append(jnp.stack(phases, axis=3))  # (N, H, W, s_c, out)
    y = jnp.stack(rows, axis=2)  # (N, H, s_r, W, s_c, out): row s·m + r is (m, r)
    return y.reshape(batch, height * stride_rows, width * stride_cols, out_features)


def conv_transpose_product(x, kernel, strides):
    """y = A_Wᵀ x as one matrix product, then a sum of shifted slices: for each phase (r, c) of the output,

        y[n, s·m + r, s·j + c, o] = Σ_{a, b} P[n, m + d_a, j + d_b, t_r(a), t_c(b), o],
        P[n, i, j, t, u, o] = Σ_k x[n, i, j, k] W[t, u, k, o]

    P, every input pixel times every tap of the kernel, is the product; the taps and offsets are
    ``_phase_taps``'s. Same numbers as ``conv_transpose_reference`` (to float32 rounding). P has kh·kw·out
    entries per input pixel, so this pays only where the output has few channels. Needs kernel size ≥ stride.
    """
    batch, height, width, in_features = x.shape
    kernel_rows, kernel_cols, _, out_features = kernel.shape
    weights = jnp.transpose(kernel, (2, 0, 1, 3)).reshape(in_features, -1)  # (in, kh·kw·out)
    products = (x.reshape(-1, in_features) @ weights).reshape(batch, height, width, kernel_rows, kernel_cols,
                                                              out_features)

    def phase(row_taps, row_padding, col_taps, col_padding):
        padding = ((0, 0), row_padding, col_padding, (0, 0))
        return sum(jnp.pad(products[:, :, :, row_tap, col_tap], padding)[:, a:a + height, b:b + width]
                   for a, row_tap in enumerate(row_taps) for b, col_tap in enumerate(col_taps))  # (N, H, W, out)

    return _interleaved_phases(phase, x.shape, kernel.shape, strides)


# Phases beat the stock forward by about 2× for the DCGANs' 64 → 32 layer (benchmarks/training_speed.py); with
# fewer output channels, interleaving s² grids costs more than the zeros save.
PHASES_MIN_OUT_FEATURES = 8


def transposed_form(kernel_shape, strides) -> str:
    """How ``conv_transpose`` computes its forward pass: "product", "phases" or "stock".

    Stride 1 is an ordinary convolution ("stock"); so is a kernel smaller than the stride, which the other
    two forms do not handle. Otherwise "product" up to ``PRODUCT_MAX_CHANNELS`` output channels, "phases"
    from ``PHASES_MIN_OUT_FEATURES``, and "stock" between (no layer of the course has 2 to 7).
    """
    out_features = kernel_shape[3]
    if max(strides) == 1 or min(kernel_shape[:2]) < max(strides):
        return "stock"
    if out_features <= PRODUCT_MAX_CHANNELS:
        return "product"
    return "phases" if out_features >= PHASES_MIN_OUT_FEATURES else "stock"


TRANSPOSED_FORMS = {"stock": conv_transpose_reference, "phases": conv_transpose_phases,
                    "product": conv_transpose_product}


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_transpose(x, kernel, strides):
    """y = A_Wᵀ x: x (N, H, W, in), kernel (kh, kw, in, out) → y (N, H·s, W·s, out)."""
    return TRANSPOSED_FORMS[transposed_form(kernel.shape, strides)](x, kernel, strides)


def _weight_gradient(z, kernel, strides, cotangent):
    """∂/∂W ⟨A_W z, cotangent⟩: the weight gradient of the strided convolution A_W at input z (XLA's own:
    for this one the product form is no faster)."""
    _, weight_vjp = jax.vjp(lambda k: _lax_strided_convolution(z, k, strides), kernel)
    return weight_vjp(cotangent)[0]


def _conv_transpose_forward(x, kernel, strides):
    return conv_transpose(x, kernel, strides), (x, kernel)


def _conv_transpose_backward(strides, residuals, g):
    x, kernel = residuals
    kernel_hwoi = jnp.swapaxes(kernel, 2, 3)  # (kh, kw, out, in): A_W's kernel
    grad_x = _adjoint_convolution(g, kernel_hwoi, strides)  # ∂L/∂x = A_W g
    # ∂L/∂W = ∂/∂W ⟨A_W g, x⟩: the ordinary weight gradient of a strided convolution
    return grad_x, jnp.swapaxes(_weight_gradient(g, kernel_hwoi, strides, x), 2, 3)


conv_transpose.defvjp(_conv_transpose_forward, _conv_transpose_backward)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _strided_convolution(x, kernel, strides):
    return _adjoint_convolution(x, kernel, strides)


def _strided_convolution_forward(x, kernel, strides):
    return _strided_convolution(x, kernel, strides), (x, kernel)


def _strided_convolution_backward(strides, residuals, g):
    x, kernel = residuals
    # ∂L/∂x = A_Wᵀ g: the transposed convolution, without inserted zeros where that pays; its own gradients
    # (R1 and WGAN-GP differentiate D's input gradient again) are those of ``conv_transpose``
    grad_x = conv_transpose(g, jnp.swapaxes(kernel, 2, 3), strides)
    return grad_x, _weight_gradient(x, kernel, strides, g)


_strided_convolution.defvjp(_strided_convolution_forward, _strided_convolution_backward)


def strided_convolution(inputs, kernel, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                        dimension_numbers=None, feature_group_count=1, **options):
    """``lax.conv_general_dilated`` for ``nnx.Conv(conv_general_dilated=...)``, with a faster input gradient.

    For a SAME, strided NHWC convolution y = A_W x, JAX's autodiff computes ∂L/∂x = A_Wᵀ g as a
    convolution over g with zeros inserted between its pixels, and XLA:CPU multiplies those zeros.
    Here ∂L/∂x is ``conv_transpose`` of g instead, which skips them. D's 16 → 32 convolution's input
    gradient: 5.0 → 1.5 ms at batch 128 on a 2-core CPU. The forward pass is one matrix product where x
    has few channels (``_adjoint_convolution``), and every other convolution is exactly
    ``lax.conv_general_dilated``.
    """
    ours = (padding == "SAME" and max(window_strides) > 1 and feature_group_count == 1 and not options.get("precision")
             and all(d == 1 for d in (*(lhs_dilation or (1,)), *(rhs_dilation or (1,))))
             and dimension_numbers == lax.conv_dimension_numbers(inputs.shape, kernel.shape, DIMENSIONS))
    if ours:
        return _strided_convolution(inputs, kernel, tuple(window_strides))
    return lax.conv_general_dilated(inputs, kernel, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, **options)
