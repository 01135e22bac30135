"""Shipped checkpoints: written by the train command, loaded back exactly, clear errors when absent."""

import jax
import numpy as np
import pytest

from gan_lessons import pretrained, train, training
from gan_lessons.classifier import make_classifier


def test_save_and_load_players_round_trip(tmp_path):
    state = make_classifier(jax.random.key(3))
    path = pretrained.save_players(tmp_path / "c.ckpt", {"classifier": state}, {"note": "test"})
    loaded, config = pretrained.load_players(path, {"classifier": make_classifier(jax.random.key(4))})
    assert config == {"note": "test"}
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(loaded["classifier"].params)):
        np.testing.assert_array_equal(a, b)


def test_missing_checkpoint_says_how_to_make_it():
    with pytest.raises(FileNotFoundError, match="python -m gan_lessons.train"):
        pretrained.load_classifier("no_such_dataset")


@pytest.mark.parametrize("config_name", ["cpu", "paper"])
def test_shipped_dcgan_loads_and_generates(config_name):
    generator, discriminator, config = pretrained.load_dcgan(config_name, "mnist")
    assert config["command"].startswith(f"python -m gan_lessons.train dcgan --config {config_name}")
    images = training.generate(generator, training.sample_latent(jax.random.key(0), 4, 100))
    assert images.shape == (4, 28, 28, 1) and float(np.abs(images).max()) <= 1.0
    assert training.discriminate(discriminator, images).shape == (4,)


def test_train_command_writes_a_loadable_dcgan_checkpoint(tmp_path, data_dir):
    out = tmp_path / "dcgan.ckpt"
    result = train.main(["dcgan", "--epochs", "0.01", "--r1-weight", "0.5",
                         "--data-dir", str(data_dir), "--out", str(out)])
    assert result["final_d_real"] > result["final_d_fake"], result  # D tells real from fake from the first steps
    stored = pretrained.read_checkpoint_config(out)
    assert stored["epochs"] == 0.01 and stored["r1_weight"] == 0.5 and stored["command"].endswith(f"--out {out}")


def test_train_command_ships_the_average_of_g_weights_and_judges_both(tmp_path, data_dir, monkeypatch):
    """--average-decay: the saved G is the average (the same run in the library says which), load_dcgan loads it,
    and the stored results judge it and the last weights on the same z, each with its FD to the test digits."""
    from gan_lessons import classifier, data
    from gan_lessons.dcgan import judge_samples, train_dcgan
    from gan_lessons.training import generate, sample_latent

    (tmp_path / "classifier_mnist.ckpt").symlink_to(pretrained.checkpoint_path("classifier_mnist"))  # the judge
    monkeypatch.setattr(pretrained, "CHECKPOINT_FOLDER", tmp_path)  # the command writes dcgan_cpu_mnist.ckpt here
    result = train.main(["dcgan", "--epochs", "0.02", "--average-decay", "0.5", "--judge-samples", "500",
                         "--data-dir", str(data_dir)])
    images, _ = data.load_mnist("train", data_dir)
    train_key, judge_key = jax.random.split(jax.random.key(0))  # the command's split of its seed
    g_state, _, _, _ = train_dcgan("cpu", images, train_key, 0.02, 128, progress=False, average_decay=0.5)
    judge, _ = pretrained.load_classifier("mnist")
    test_features = classifier.classifier_features(judge, data.load_mnist("test", data_dir)[0])
    z = sample_latent(judge_key, 500, 100)  # the command's z for the judge
    live = judge_samples(judge, generate(g_state, z), test_features)
    average = judge_samples(judge, generate(g_state.replace(params=g_state.opt_state.average), z), test_features)
    for stored, expected in ((result["live"], live), (result, average)):
        assert stored["class_shares"] == pytest.approx(expected["class_shares"], abs=2e-4)
        assert (stored["mean_confidence"], stored["frechet_distance"]) == pytest.approx(
            (expected["mean_confidence"], expected["frechet_distance"]), rel=1e-3)
    assert live["frechet_distance"] != average["frechet_distance"]  # two generators, judged apart
    generator, _, config = pretrained.load_dcgan("cpu", "mnist")  # the chapters' loader reads it back
    assert config["average_decay"] == 0.5 and config["generator_optimizer"]["average_decay"] == 0.5
    for loaded, averaged in zip(jax.tree.leaves(generator.params), jax.tree.leaves(g_state.opt_state.average)):
        np.testing.assert_allclose(loaded, averaged, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(g_state.opt_state.average),
                                                      jax.tree.leaves(g_state.params)))


def test_contributing_gives_the_command_of_every_shipped_checkpoint():
    """CONTRIBUTING.md's training commands must make what is shipped: the same settings as each stored command."""
    import re
    import shlex
    from pathlib import Path

    from gan_lessons import checkpoint

    page = (Path(__file__).parent.parent / "CONTRIBUTING.md").read_text()
    parser = train.build_parser()

    def settings(command: str) -> dict:
        words = shlex.split(command.split("#")[0])[3:]  # after "python -m gan_lessons.train"
        return {k: v for k, v in vars(parser.parse_args(words)).items() if k not in ("out", "data_dir")}

    listed = [settings(line) for line in re.findall(r"^python -m gan_lessons\.train .*$", page, re.MULTILINE)]
    for name in pretrained.available():
        stored = checkpoint.read_checkpoint_config(pretrained.checkpoint_path(name))["command"]
        assert settings(stored) in listed, f"{name}: CONTRIBUTING.md has no command with the settings of {stored!r}"
