"""``jit``: ``jax.jit`` with the XLA:CPU setting this course measured to be faster for its models.

XLA:CPU in jax 0.10 hands three kinds of operation to the YNNPACK library by default: matrix products,
reductions and convolutions. For the course's small convolutions, and their weight gradients above all,
XLA's older Eigen kernels are faster on a CPU. ``benchmarks/compare_pytorch.py`` times the same DCGAN step
compiled both ways, each in fresh processes; a profile of the step shows where the difference lies: under
YNNPACK, one transposed convolution's weight gradient took about 7.5 ms of a 54 ms step.

So ``jit`` compiles with YNNPACK kept for products and reductions and convolutions left to Eigen. It is
plain ``jax.jit`` on a GPU or TPU. The setting is experimental: before using it, ``compiler_options`` asks
this XLA to compile a one-line function with it, and where XLA refuses (an older or newer jax that lacks or
renamed it), ``jit`` warns once and is plain ``jax.jit``: slower convolutions on a CPU, never an error. The
choice is made at the first call, not at import, so importing the library never starts a JAX backend:
chapter 11 must choose the number of CPU devices before that happens.
"""

from __future__ import annotations

import functools
import warnings

import jax
import numpy as np

# The default list (products, convolutions, reductions) without convolutions.
CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE",
}


def compiler_options() -> dict:
    """The options ``jit`` compiles with here: ``CPU_COMPILER_OPTIONS`` on a CPU whose XLA accepts them, else none."""
    if jax.default_backend() != "cpu":
        return {}
    return _accepted(tuple(sorted(CPU_COMPILER_OPTIONS.items())))


@functools.cache
def _accepted(options: tuple) -> dict:
    """``options`` as a dict if this XLA compiles with them; else {} and one warning (cached: asked once)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=dict(options)).lower(np.float32(0)).compile()
    except jax.errors.JaxRuntimeError as error:
        warnings.warn(f"this jax {jax.__version__} does not accept the compiler options {dict(options)} "
                      f"({error}); gan_lessons compiles with plain jax.jit instead: the same results, with "
                      "slower convolutions on a CPU", RuntimeWarning, stacklevel=2)
        return {}
    return dict(options)


class _Jitted:
    """A function compiled by ``jax.jit`` at its first call, with ``compiler_options()``.

    Called inside another jitted function (its arguments are tracers) it is a plain ``jax.jit``: JAX takes
    compiler options only at the top level, where the outer function's options apply to the whole program.
    """

    def __init__(self, function, jit_arguments):
        functools.update_wrapper(self, function)
        self._function, self._jit_arguments, self._jitted = function, jit_arguments, None
        self._nested = jax.jit(function, **jit_arguments)

    def _compiled(self):
        if self._jitted is None:
            self._jitted = jax.jit(self._function, compiler_options=compiler_options() or None,
                                   **self._jit_arguments)
        return self._jitted

    def __call__(self, *args, **kwargs):
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((args, kwargs))):
            return self._nested(*args, **kwargs)
        return self._compiled()(*args, **kwargs)

    def lower(self, *args, **kwargs):
        return self._compiled().lower(*args, **kwargs)


def jit(function=None, **jit_arguments):
    """``jax.jit`` (same arguments) with this module's compiler options; use as ``@jit`` or
    ``@partial(jit, static_argnames=...)``."""
    if function is None:
        return functools.partial(jit, **jit_arguments)
    return _Jitted(function, jit_arguments)
