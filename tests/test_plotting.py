"""The figures draw what they are given: checked on the artists matplotlib creates."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gan_lessons import plotting  # noqa: E402


def test_image_grid_maps_minus_one_to_white_and_one_to_black():
    images = np.stack([-np.ones((4, 4, 1)), np.ones((4, 4, 1))])
    ax = plotting.image_grid(images, columns=2)
    canvas = ax.get_images()[0].get_array()
    assert canvas.shape == (6, 11)
    assert canvas[1, 1] == 0.0 and canvas[1, 6] == 1.0  # shown with gray_r: 0 white, 1 black
    plt.close("all")


def test_loss_curves_smoothing():
    ax = plotting.loss_curves({"d_loss": np.arange(10.0), "g_loss": np.ones(10)}, smooth=3)
    lines = ax.get_lines()
    assert len(lines) == 2 and len(lines[0].get_ydata()) == 8
    np.testing.assert_allclose(lines[0].get_ydata()[:2], [1.0, 2.0])
    plt.close("all")


def test_field_2d_heat_map_and_arrows():
    real, fake = np.zeros((5, 2)), np.ones((5, 2))
    ax = plotting.field_2d(real, fake, discriminator_fn=lambda points: points[:, 0] > 0,
                           gradient=-fake, extent=2.0, resolution=10)
    heat = ax.get_images()[0].get_array()
    assert heat.shape == (10, 10) and heat[:, :5].max() == 0 and heat[:, 5:].min() == 1
    assert len(ax.collections) == 3  # real, fake, arrows
    plt.close("all")


def test_density_1d_and_animation_to_gif(tmp_path):
    grid = np.linspace(-1, 1, 50)
    ax = plotting.density_1d(grid, np.ones(50), np.ones(50) / 2, np.full(50, 0.5), z_lines=([0.0], [0.5]))
    assert len(ax.get_lines()) == 4
    plt.close("all")
    animation = plotting.animate([1, 2, 3], lambda ax, frame: ax.plot([0, frame]), interval_ms=50, figsize=(2, 2))
    path = tmp_path / "movie.gif"
    animation.save(path, writer="pillow")
    assert path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert "<script" in animation.to_jshtml()


def test_animating_field_2d_draws_one_colour_bar_per_frame_and_no_stray_figure():
    axes_drawn = []

    def draw(ax, level):
        plotting.field_2d(np.zeros((3, 2)), np.ones((3, 2)), lambda points: np.full(len(points), level),
                          extent=1.0, resolution=4, ax=ax)
        axes_drawn.append(ax)

    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Adding colorbar to a different Figure" was one per frame
        html = plotting.animate([0.2, 0.5, 0.8, 0.4], draw, interval_ms=50).to_jshtml()
    assert "<script" in html and len(axes_drawn) >= 4
    assert len(axes_drawn[-1].figure.axes) == 2  # the last frame: its axes and one colour bar
    assert plt.get_fignums() == []  # the animation's figure is closed, and no empty one was opened
