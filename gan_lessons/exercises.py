"""Checking a student's answer to an exercise, and saying in words what is wrong with it.

``check_answer(student, reference, inputs)`` runs both functions on the same inputs (fixed ones, or random
ones drawn from a ``jax.random`` key) and prints one verdict. When they disagree it looks for the mistakes
students make most, in this order:

- not attempted yet (``None``, or ``raise NotImplementedError``), an exception, no ``return``;
- a wrong shape: a mean over the wrong axis, a missing mean, a result transposed;
- NaN or ±inf where the reference is finite: a log of 0, ``log(1 − sigmoid(ℓ))`` for a large logit;
- a known wrong answer for this reference, e.g. the saturating generator loss where the non-saturating one
  is asked (``KNOWN_MISTAKES``, or the ``mistakes`` argument);
- the sign flipped; every value scaled by the same factor (a sum for a mean); off by the same constant.

While the student's function runs, the reference (and any library function the check names) is withheld
(``withheld``): an answer that only calls it would check nothing of the student's, so it is told so. A check
whose reference is a lambda around a library function names that function in ``withhold``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Iterable, Sequence

import jax
import numpy as np

from gan_lessons import losses

NOT_ATTEMPTED = "not attempted yet — fill in the cell above and run this one again."

# Wrong answers students give for the library's losses, each with what it is. The check compares a
# mismatching answer with each of these (on the same inputs) before it falls back to generic explanations.
KNOWN_MISTAKES: dict[Callable, dict[str, Callable]] = {
    losses.g_loss_non_saturating: {
        "the saturating (minimax) loss E[log(1 − D(G(z)))], whose gradient vanishes while D rejects the fakes; "
        "the non-saturating loss is −E[log D(G(z))]": losses.g_loss_saturating,
        "−E[log(1 − D(G(z)))]: that is the saturating loss with its sign flipped, not the non-saturating "
        "loss −E[log D(G(z))]": lambda fake: -losses.g_loss_saturating(fake),
    },
    losses.g_loss_saturating: {
        "the non-saturating loss −E[log D(G(z))]; this exercise asks for the minimax generator's "
        "E[log(1 − D(G(z)))]": losses.g_loss_non_saturating,
    },
    losses.d_loss: {
        "the real and fake logits swapped: D should label real 1 and fake 0":
            lambda real, fake: losses.d_loss(fake, real),
        "the value function V(D, G) itself; D maximises V, so its loss to minimise is −V": losses.value_function,
    },
    losses.d_loss_hinge: {
        "the Wasserstein critic loss E[ℓ(G(z))] − E[ℓ(x)]: the hinge clips each term at the margin with "
        "max(0, 1 ∓ ℓ)": losses.d_loss_wasserstein,
    },
}


class LibraryAnswer(Exception):
    """Raised when an answer calls a function that its check withholds."""


def _in_library(module_name: str) -> bool:
    return module_name == "gan_lessons" or module_name.startswith("gan_lessons.")


@contextlib.contextmanager
def withheld(functions: Iterable[Callable], namespace: dict | None = None, modules: Iterable = ()):
    """While the block runs, each of ``functions`` raises ``LibraryAnswer`` instead of answering.

    It is replaced wherever an answer can reach it by name: in every loaded ``gan_lessons`` module
    (``losses.d_loss(...)``), in those modules' tables (``losses.DISCRIMINATOR_LOSSES["hinge"]``) and in
    ``namespace``, the answer's own globals (``from gan_lessons.losses import d_loss``), and in ``modules``
    (another library's, e.g. ``scipy.linalg`` for ``scipy.linalg.sqrtm``). Not by other routes: a
    default argument, a closure or a ``functools.partial`` holding it, or a jitted answer traced before the
    check, still reach the original.
    """
    def refusal(function):
        def refuse(*args, **kwargs):
            raise LibraryAnswer(f"it calls {function.__module__}.{function.__qualname__}, which this check "
                                "withholds: an answer that calls it checks nothing of yours. Write it from the "
                                "formula instead")
        return refuse

    library = [vars(module) for name, module in list(sys.modules.items()) if _in_library(name)]
    tables = [value for module in library for name, value in module.items()
              if isinstance(value, dict) and not name.startswith("__")]  # e.g. losses.GENERATOR_LOSSES
    places = library + tables + [vars(module) for module in modules] + ([namespace] if namespace is not None else [])
    replaced = []
    for function in functions:
        for place in places:
            for name in [name for name, value in place.items() if value is function]:
                replaced.append((place, name, function))
                place[name] = refusal(function)
    try:
        yield
    finally:
        for place, name, function in reversed(replaced):
            place[name] = function


def _as_array(value) -> np.ndarray:
    return np.asarray(jax.device_get(value), dtype=np.float64)


def _close(got: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> bool:
    return got.shape == expected.shape and bool(np.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True))


def explain_shape(got: tuple, expected: tuple, arguments: Sequence) -> str:
    """Why a result can have the wrong shape, in words, using the shapes of the arguments."""
    message = f"returned shape {got}, expected {expected}"
    if got == expected[::-1] and len(got) > 1:
        return message + ": the result is transposed."
    if got and not expected:
        return message + " (one number): a missing mean (or sum) over the batch?"
    if expected and not got:
        return message + ": you reduced over every axis; the reference keeps one value per " \
                         f"{'row' if len(expected) == 1 else 'entry'}."
    for argument in arguments:
        shape = np.shape(argument)
        kept = {axis: shape[:axis] + shape[axis + 1:] for axis in range(len(shape))}
        yours = [axis for axis, remaining in kept.items() if remaining == got]
        wanted = [axis for axis, remaining in kept.items() if remaining == expected]
        if yours and wanted:
            return message + f": you reduced over axis {yours[0]} of the input of shape {shape}; " \
                             f"the reference reduces over axis {wanted[0]} (wrong axis)."
    return message + " (a wrong axis, or a missing reduction?)."


def explain_values(results: list[tuple[Sequence, np.ndarray, np.ndarray]], mistakes: dict[str, Callable],
                   atol: float, rtol: float) -> str:
    """Why results of the right shape differ from the reference's, in words.

    ``results`` holds (arguments, the student's result, the reference's result) for every input: a factor or
    an offset shared by all of them can only be told apart from a one-off difference with several values.
    """
    got = np.concatenate([np.ravel(mine) for _, mine, _ in results])
    expected = np.concatenate([np.ravel(reference) for _, _, reference in results])
    if not np.isfinite(got[np.isfinite(expected)]).all():
        return "returned NaN or ±inf where the reference is finite: a log of 0? log(1 − sigmoid(ℓ)) is −inf for " \
               "a large ℓ, log(sigmoid(ℓ)) for a very negative one. Work with logits (softplus, as " \
               "gan_lessons.losses does)."
    for description, mistake in mistakes.items():
        try:
            theirs = np.concatenate([np.ravel(_as_array(mistake(*arguments))) for arguments, _, _ in results])
        except Exception:  # a mistake that does not apply to these inputs
            continue
        if _close(got, theirs, atol, rtol):
            return f"this looks like {description}."
    if _close(got, -expected, atol, rtol):
        return "the sign is flipped: are you maximising what should be minimised?"
    several = got.size > 1
    reference_size = np.abs(expected).max()
    if several and reference_size > atol:
        ratio = got[np.argmax(np.abs(expected))] / expected[np.argmax(np.abs(expected))]
        if not np.isclose(ratio, 1.0) and _close(got, ratio * expected, atol, rtol):
            return f"every value is {ratio:.6g} × the reference's: a sum where a mean is wanted " \
                   f"(or the reverse), or a factor such as ½ missing?"
    offset = got[0] - expected[0]
    if several and _close(got, expected + offset, atol, rtol):
        return f"every value is off by the same {offset:+.6g}: a constant term missing or extra?"
    for number, (_, mine, reference) in enumerate(results, start=1):
        if not _close(mine, reference, atol, rtol):
            worst = np.unravel_index(np.argmax(np.abs(mine - reference)), mine.shape) if mine.shape else ()
            where = f" at index {tuple(int(i) for i in worst)}" if mine.shape else ""
            return f"differs from the reference on input {number}{where}: got {mine[worst]:.6g}, " \
                   f"expected {reference[worst]:.6g}."
    raise AssertionError("explain_values called with results that all agree")


def call_answer(student, name: str, arguments: Sequence, withhold: Sequence[Callable] = (),
                namespace: dict | None = None) -> tuple[bool, object]:
    """(True, the student's result) or (False, None) with the reason printed: not attempted yet, a call to a
    withheld function (``withheld``, with ``namespace`` the answer's globals), or the exception it raised."""
    if student is None:
        print(f"{name}: {NOT_ATTEMPTED}")
        return False, None
    try:
        with withheld(withhold, namespace):
            return True, student(*arguments)
    except NotImplementedError:
        print(f"{name}: {NOT_ATTEMPTED}")
    except LibraryAnswer as refusal:
        print(f"{name}: {refusal}.")
    except Exception as error:  # a student's bug: report it, do not crash the check
        print(f"{name}: raised {type(error).__name__}: {error}")
    return False, None


def check_answer(student, reference, inputs, name: str = "your answer", atol: float = 1e-5, rtol: float = 1e-4,
                 mistakes: dict[str, Callable] | None = None, key: jax.Array | None = None, trials: int = 5,
                 withhold: Sequence[Callable] = (), structure: Callable | None = None) -> bool:
    """Compare a student's function with the reference; print a verdict that says what is wrong, if anything.

    ``inputs`` is a list of argument tuples, or a function ``key -> argument tuple`` that draws random
    inputs: then ``trials`` draws are made from ``key`` (default ``jax.random.key(0)``), so the check is the
    same every time it runs. ``mistakes`` maps a description to a known wrong answer, added to
    ``KNOWN_MISTAKES[reference]``. ``withhold``: library functions the answer may not call, besides the
    reference itself. ``structure``: for an exercise that asks *how* to compute, not only what, a function
    ``answer -> None or what is missing``, asked once the numbers are right (e.g. "it loops over the
    examples"). Returns True when every input gives the reference's result and the structure is accepted.
    """
    withhold = [*withhold, reference]
    inner = inspect.unwrap(student.func if isinstance(student, functools.partial) else student)  # jit, partial
    if any(inner is function for function in withhold):  # nothing of the student's would be checked
        print(f"{name}: that is the library's own {getattr(inner, '__name__', 'function')}; write your own")
        return False
    if callable(inputs):
        keys = jax.random.split(jax.random.key(0) if key is None else key, trials)
        inputs = [tuple(inputs(draw_key)) for draw_key in keys]
    known = {**KNOWN_MISTAKES.get(reference, {}), **(mistakes or {})}
    results = []
    for arguments in inputs:
        expected = _as_array(reference(*arguments))
        called, result = call_answer(student, name, arguments, withhold, getattr(inner, "__globals__", None))
        if not called:
            return False
        if result is None:
            print(f"{name}: returned None — is the `return` missing?")
            return False
        got = _as_array(result)
        if got.shape != expected.shape:
            print(f"{name}: {explain_shape(got.shape, expected.shape, arguments)}")
            return False
        results.append((arguments, got, expected))
    right = [_close(got, expected, atol, rtol) for _, got, expected in results]
    if all(right):
        missing = structure(student) if structure else None
        if missing:
            print(f"{name}: not accepted yet. The numbers are right on all {len(results)} test inputs, but {missing}")
            return False
        print(f"{name}: correct on all {len(results)} test inputs.")
        return True
    explanation = explain_values(results, known, atol, rtol)
    if any(right):
        explanation += f" (right on {sum(right)} of the {len(results)} inputs)"
    print(f"{name}: {explanation}")
    return False
