"""Figures the chapters share: image grids, loss curves, 1-D densities, 2-D fields, animations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation

from gan_lessons.data import to_unit_interval


def image_grid(images, columns: int = 8, title: str | None = None, ax=None):
    """Show images (N, H, W, 1) in [-1, 1] as one grid; returns the axes."""
    images = np.asarray(images)
    count, height, width = images.shape[:3]
    rows = -(-count // columns)
    canvas = np.ones((rows * (height + 1) + 1, columns * (width + 1) + 1))  # 1-pixel white gutters
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = 1 + row * (height + 1), 1 + column * (width + 1)
        canvas[top : top + height, left : left + width] = to_unit_interval(image[..., 0])
    if ax is None:
        _, ax = plt.subplots(figsize=(columns * 0.6, rows * 0.6))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def loss_curves(metrics: dict, keys=("d_loss", "g_loss"), smooth: int = 1, ax=None):
    """Plot training metrics against the step, with an optional moving average."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    for key in keys:
        values = np.asarray(metrics[key], dtype=float)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
        ax.plot(values, label=key)
    ax.set_xlabel("step")
    ax.legend()
    return ax


def density_1d(grid, p_data, p_generator=None, discriminator=None, z_lines=None, title=None, ax=None):
    """Goodfellow et al.'s Figure 1: data density (black dots), generator density (green), D (blue dashes).

    ``z_lines``: optional (z, G(z)) pairs drawn as the mapping from a lower z axis to x.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    grid = np.asarray(grid)
    ax.plot(grid, p_data, "k:", linewidth=2, label="data $p_{data}$")
    if p_generator is not None:
        ax.plot(grid, p_generator, "g-", label="generator $p_g$")
    if discriminator is not None:
        ax.plot(grid, discriminator, "b--", label="discriminator $D$")
    if z_lines is not None:
        z, x = (np.asarray(a).ravel() for a in z_lines)
        bottom = -0.15 * ax.get_ylim()[1]
        for z_value, x_value in zip(z, x):
            ax.plot([z_value, x_value], [bottom, 0], color="0.6", linewidth=0.6)
    if title:
        ax.set_title(title)
    ax.set_xlabel("x")
    ax.legend(fontsize=7, loc="upper right")
    return ax


def field_2d(real, fake, discriminator_fn=None, gradient=None, extent=3.0, resolution=120, title=None, ax=None):
    """Real (black) and fake (green) 2-D points over D's output as a heat-map.

    ``discriminator_fn``: maps (M, 2) points to D(x) in [0, 1].
    ``gradient``: (M, 2) arrows drawn at the first M fake points (the direction G moves them), as unit arrows:
    their lengths vary by orders of magnitude, so only the direction is drawn.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if discriminator_fn is not None:
        axis = np.linspace(-extent, extent, resolution)
        xs, ys = np.meshgrid(axis, axis)
        values = np.asarray(discriminator_fn(np.stack([xs.ravel(), ys.ravel()], 1))).reshape(xs.shape)
        image = ax.imshow(values, origin="lower", extent=(-extent, extent, -extent, extent),
                          cmap="RdBu", vmin=0, vmax=1, alpha=0.7)
        ax.figure.colorbar(image, ax=ax, fraction=0.046, label="D(x)")  # on ax's own figure, not plt's current one
    real, fake = np.asarray(real), np.asarray(fake)
    ax.scatter(real[:, 0], real[:, 1], s=3, c="k", label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, c="tab:green", label="fake")
    if gradient is not None:
        gradient = np.asarray(gradient)
        gradient = gradient / (np.linalg.norm(gradient, axis=1, keepdims=True) + 1e-8)
        ax.quiver(fake[:len(gradient), 0], fake[:len(gradient), 1], gradient[:, 0], gradient[:, 1],
                  color="darkgreen", width=0.006, scale=14)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def animate(frames: list, draw, interval_ms: int = 200, figsize=(4, 4)):
    """An animation that calls ``draw(ax, frame)`` for each frame; returns a matplotlib Animation.

    Each frame is drawn on a fresh axes in a cleared figure, so whatever ``draw`` adds beside its axes
    (a colour bar) appears once per frame instead of piling up. Show it in a notebook with
    ``HTML(anim.to_jshtml())``; save a GIF with ``anim.save("x.gif", writer="pillow")``.
    """
    figure = plt.figure(figsize=figsize)

    def update(index):
        figure.clear()
        draw(figure.add_subplot(), frames[index])
        return []

    result = animation.FuncAnimation(figure, update, frames=len(frames), interval=interval_ms, blit=False)
    plt.close(figure)  # the animation is shown on its own, not as a static figure too
    return result
