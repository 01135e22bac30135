"""compiling.jit: jax.jit with convolutions left to XLA's Eigen kernels on a CPU."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gan_lessons import compiling


def convolution_loss_gradient(x, kernel):
    """The weight gradient of a strided convolution: the operation YNNPACK ran slowest in the DCGAN step."""
    def loss(kernel):
        y = lax.conv_general_dilated(x, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.sum(jnp.sin(y))
    return jax.grad(loss)(kernel)


def _inputs():
    x = jax.random.normal(jax.random.key(0), (64, 14, 14, 16))  # the cpu D's second layer, batch 64
    kernel = 0.1 * jax.random.normal(jax.random.key(1), (4, 4, 16, 32))
    return x, kernel


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="YNNPACK and the options that avoid it are XLA:CPU's")
def test_on_cpu_the_options_keep_convolutions_away_from_ynnpack():
    assert compiling.compiler_options() == compiling.CPU_COMPILER_OPTIONS
    x, kernel = _inputs()
    stock = jax.jit(convolution_loss_gradient).lower(x, kernel).compile().as_text()
    library = compiling.jit(convolution_loss_gradient).lower(x, kernel).compile().as_text()
    assert "__ynn_fusion" not in library and "convolution(" in library
    if "__ynn_fusion" not in stock:  # jax 0.10.0's XLA, for one, kept convolutions off YNNPACK by default
        pytest.skip(f"jax {jax.__version__}: XLA's default already leaves convolutions to Eigen")
    # XLA's default here: the convolutions go to YNNPACK, which the options avoid


def test_same_numbers_as_plain_jit_and_usable_inside_another_jit():
    x, kernel = _inputs()
    expected = jax.jit(convolution_loss_gradient)(x, kernel)
    fast = compiling.jit(convolution_loss_gradient)
    # each entry sums 64·7·7 products: Eigen and YNNPACK add them in different orders (float32 rounding)
    np.testing.assert_allclose(fast(x, kernel), expected, rtol=1e-4, atol=1e-4)
    # nested: JAX accepts compiler options only at the top level, so inside jit it is a plain jit
    np.testing.assert_allclose(jax.jit(lambda a, b: fast(a, b))(x, kernel), expected, rtol=1e-4, atol=1e-4)


def test_static_arguments_and_the_function_name_pass_through():
    @compiling.jit
    def named(x):
        return x + 1

    scaled = compiling.jit(lambda x, factor: x * factor, static_argnames=("factor",))
    assert named.__name__ == "named" and float(named(1.0)) == 2.0
    assert float(scaled(2.0, factor=3)) == 6.0


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options are asked of XLA:CPU only")
def test_options_this_xla_does_not_know_fall_back_to_plain_jit_with_one_warning(monkeypatch):
    """A jax whose XLA lacks (or renamed) the experimental option: plain jax.jit and a warning, not an error."""
    monkeypatch.setattr(compiling, "CPU_COMPILER_OPTIONS", {"xla_cpu_no_such_option_in_any_version": "true"})
    compiling._accepted.cache_clear()
    try:
        x, kernel = _inputs()
        with pytest.warns(RuntimeWarning, match="does not accept the compiler options") as caught:
            first = compiling.jit(convolution_loss_gradient)(x, kernel)
            second = compiling.jit(lambda a: a * 2)(x)  # a second function: no second warning
        assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
        assert compiling.compiler_options() == {}
        np.testing.assert_array_equal(first, jax.jit(convolution_loss_gradient)(x, kernel))
        np.testing.assert_array_equal(second, x * 2)
    finally:
        compiling._accepted.cache_clear()  # the real options again for the tests after this one
