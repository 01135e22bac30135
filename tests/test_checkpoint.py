import os
import pickle
from pathlib import Path

import jax
import numpy as np
import pytest

from gan_lessons import checkpoint, training
from gan_lessons.models import make_dcgan


def states(config="cpu"):
    generator, discriminator = make_dcgan(config, jax.random.key(0))
    return {"g": training.TrainState.create(generator, training.dcgan_optimizer()),
            "d": training.TrainState.create(discriminator, training.dcgan_optimizer())}


def test_round_trip_restores_every_array_and_the_config(tmp_path):
    saved = states()
    saved["g"] = saved["g"].replace(step=saved["g"].step + 7)
    path = checkpoint.save_checkpoint(tmp_path / "gan.ckpt", saved, {"architecture": "cpu", "step": 7})
    loaded, config = checkpoint.load_checkpoint(path, states())
    assert config == {"architecture": "cpu", "step": 7}
    assert checkpoint.read_checkpoint_config(path) == config
    for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)
    assert int(loaded["g"].step) == 7
    assert [p.name for p in tmp_path.iterdir()] == ["gan.ckpt"]  # no temporary file left behind
    # the loaded state trains
    training.generate(loaded["g"], jax.numpy.zeros((2, 100)))


def test_a_flipped_byte_is_caught_by_the_checksum(tmp_path):
    path = checkpoint.save_checkpoint(tmp_path / "gan.ckpt", states())
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match="damaged|not a gan_lessons"):
        checkpoint.load_checkpoint(path, states())


def test_a_truncated_file(tmp_path):
    path = checkpoint.save_checkpoint(tmp_path / "gan.ckpt", states())
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load_checkpoint(path, states())


def test_another_architecture_is_named_in_the_error(tmp_path):
    path = checkpoint.save_checkpoint(tmp_path / "gan.ckpt", states("paper"), {"architecture": "paper"})
    with pytest.raises(checkpoint.CheckpointError, match="does not match the model") as error:
        checkpoint.load_checkpoint(path, states("cpu"))
    assert "paper" in str(error.value)


def test_same_names_other_shapes(tmp_path):
    saved = states()
    template = jax.tree.map(lambda x: x, saved)
    template["g"] = template["g"].replace(step=np.zeros((2,), np.int32))
    path = checkpoint.save_checkpoint(tmp_path / "gan.ckpt", saved)
    with pytest.raises(checkpoint.CheckpointError, match="another architecture"):
        checkpoint.load_checkpoint(path, template)


class PickleWithASideEffect:
    """Unpickling this runs code: it creates the file ``marker``. Exactly what a checkpoint loader must not do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_file_is_refused_not_executed(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"format": checkpoint.FORMAT, "payload": PickleWithASideEffect(marker)}))
    with pytest.raises(checkpoint.CheckpointError, match="not a gan_lessons checkpoint"):
        checkpoint.load_checkpoint(path, states())
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # what pickle would have done: the test's payload is live
    assert marker.exists()


def test_a_save_interrupted_midway_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = checkpoint.save_checkpoint(tmp_path / "gan.ckpt", states(), {"version": 1})
    newer = states()
    newer["g"] = newer["g"].replace(step=newer["g"].step + 1)

    def interrupted(descriptor):  # the kernel is interrupted after the bytes are written, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)  # what files.atomic_file calls before the rename
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(path, newer, {"version": 2})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["gan.ckpt"]  # the temporary file is gone
    loaded, config = checkpoint.load_checkpoint(path, states())
    assert config == {"version": 1} and int(loaded["g"].step) == 0


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load_checkpoint("/nonexistent/gan.ckpt", states())
