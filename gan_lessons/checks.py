"""Checks on what students most often pass by mistake, with errors that say what to do.

Every model in the course takes images as float arrays (N, height, width, channels) with values in
[−1, 1] (the generator's tanh range), latent vectors (N, latent_dim), and integer labels 0..classes−1.
The usual slips — pixel values in [0, 255] or [0, 1], channels first (PyTorch's NCHW), a missing
channel axis, a latent of the wrong size, labels out of range — otherwise surface as a shape error
deep inside a layer, or worse, as silently bad training. Each check names the argument, what was
expected and what was received. Value checks run only on concrete arrays: inside ``jax.jit`` the
values are not known yet, and the shapes are checked all the same.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np


class InputWarning(UserWarning):
    """An input that is probably a mistake but could be intended (images in [0, 1], say)."""


def _is_concrete(array) -> bool:
    return not isinstance(array, jax.core.Tracer)


def _shape_hint(received: tuple, expected: tuple) -> str:
    """Why an item of shape ``received`` might not be the ``expected`` (height, width, channels)."""
    if tuple(received) == tuple(expected[:-1]):
        return f" It is missing the channel axis: add it with x[..., None] to get {expected}."
    if len(expected) == 3 and tuple(received) == (expected[2], expected[0], expected[1]):
        return (f" It looks like channels-first (NCHW, PyTorch's layout); the course uses channels-last (NHWC): "
                f"x.transpose(0, 2, 3, 1) gives {expected}.")
    if len(received) == 1 and received[0] == int(np.prod(expected)):
        return f" It looks flattened: x.reshape(-1, {', '.join(map(str, expected))}) restores the image shape."
    return ""


def check_image_shape(images, name: str = "images", item_shape: tuple | None = None, leading_axes: int = 1):
    """``images`` must be (…, height, width, channels) with ``leading_axes`` axes in front (1: a batch).

    With ``item_shape`` (e.g. (28, 28, 1)) the trailing axes must equal it; without, they must look like
    an NHWC image (1 or 3 channels last).
    """
    shape = tuple(np.shape(images))
    item = shape[leading_axes:]
    front = ("batch", "steps, batch")[leading_axes - 1] if leading_axes in (1, 2) else f"{leading_axes} axes"
    if item_shape is not None:
        if item != tuple(item_shape):
            raise ValueError(f"{name} must have shape ({front}, {', '.join(map(str, item_shape))}); "
                             f"received {shape}.{_shape_hint(item, tuple(item_shape))}")
        return
    if len(item) == 3 and item[-1] in (1, 3):
        return
    guess = (item[1], item[2], item[0]) if len(item) == 3 else (*item, 1)
    hint = _shape_hint(item, guess) if len(item) in (2, 3) else ""
    raise ValueError(f"{name} must be images of shape ({front}, height, width, channels) with 1 or 3 channels "
                     f"last; received {shape}.{hint}")


def check_image_values(images, name: str = "images"):
    """Float values in [−1, 1]: an error for [0, 255] or integers, a warning for what looks like [0, 1]."""
    if not _is_concrete(images):
        return
    dtype = getattr(images, "dtype", None)
    dtype = np.asarray(images).dtype if dtype is None else np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{name} must be floats in [-1, 1]; received dtype {dtype} (raw pixels?). "
                        "Convert with x.astype(np.float32) / 127.5 - 1.")
    low, high = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contains NaN or Inf; expected finite values in [-1, 1].")
    if high > 1.01 or low < -1.01:
        hint = (" It looks like pixel values in [0, 255]: scale with x / 127.5 - 1." if high > 2 and low >= 0
                else "")
        raise ValueError(f"{name} must be in [-1, 1] (the generator's tanh range); received values in "
                         f"[{low:.4g}, {high:.4g}].{hint}")
    if low >= 0 and high > 0.5:
        warnings.warn(f"{name} has values in [{low:.3g}, {high:.3g}]: that looks like images in [0, 1], but the "
                      "models expect [-1, 1] (the generator's tanh range). Rescale with x * 2 - 1.",
                      InputWarning, stacklevel=3)


def check_images(images, name: str = "images", item_shape: tuple | None = None, leading_axes: int = 1):
    """Both checks: an NHWC shape, and float values in [−1, 1]."""
    check_image_shape(images, name, item_shape, leading_axes)
    check_image_values(images, name)


def check_latent(z, latent_dim: int, name: str = "z"):
    """``z`` must be (batch, latent_dim)."""
    shape = tuple(np.shape(z))
    if len(shape) != 2 or shape[1] != latent_dim:
        fix = (f" Add a batch axis: {name}[None]." if shape == (latent_dim,) else "")
        raise ValueError(f"{name} must have shape (batch, {latent_dim}): this generator takes latent vectors of "
                         f"size {latent_dim}; received {shape}.{fix} Draw one with "
                         f"jax.random.normal(key, (batch, {latent_dim})).")


def check_labels(labels, classes: int, name: str = "labels", count: int | None = None):
    """``labels`` must be integers 0..classes−1, one per example (``count`` of them, when given)."""
    shape = tuple(np.shape(labels))
    if len(shape) != 1 or (count is not None and shape[0] != count):
        expected = f"({count},)" if count is not None else "(N,)"
        extra = " (one-hot? pass labels.argmax(axis=1))" if len(shape) == 2 and shape[1] == classes else ""
        raise ValueError(f"{name} must be one integer class per example, shape {expected}; received {shape}{extra}.")
    if not _is_concrete(labels):
        return
    values = np.asarray(labels)
    if not np.issubdtype(values.dtype, np.integer):
        if np.issubdtype(values.dtype, np.floating) and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        else:
            raise TypeError(f"{name} must be integers 0..{classes - 1}; received dtype {values.dtype}.")
    if len(values) and (values.min() < 0 or values.max() >= classes):
        raise ValueError(f"{name} must be in 0..{classes - 1} ({classes} classes); received values from "
                         f"{values.min()} to {values.max()}.")
