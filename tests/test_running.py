"""The training runner: the divergence guard, periodic checkpoints and resuming where training stopped."""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from gan_lessons import checkpoint, data, pretrained, running, training
from gan_lessons.models import MLPDiscriminator, MLPGenerator, make_dcgan


def mlp_states(discriminator_learning_rate=1e-3, seed=0):
    generator_key, discriminator_key = jax.random.split(jax.random.key(seed))
    generator = MLPGenerator(8, (2,), hidden=(32, 32), rngs=nnx.Rngs(generator_key))
    discriminator = MLPDiscriminator((2,), hidden=(32, 32), rngs=nnx.Rngs(discriminator_key))
    return (training.TrainState.create(discriminator, optax.adam(discriminator_learning_rate, b1=0.5)),
            training.TrainState.create(generator, optax.adam(1e-3, b1=0.5)))


def ring_batches(steps, batch=64, seed=1):
    return np.asarray(data.ring_of_gaussians().sample(jax.random.key(seed), steps * batch)).reshape(steps, batch, 2)


def identical(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def poisoned_batches(steps, bad_step):
    """Ring batches with one Inf in the real batch of ``bad_step``: D's loss there is not finite."""
    batches = ring_batches(steps).copy()
    batches[bad_step, 0, 0] = np.inf
    return batches


def run(states, batches, steps, runner, **options):
    """``run_steps`` of the ring GAN's step over the first ``steps`` of ``batches``, keys from one seed."""
    step_keys = jax.random.split(jax.random.key(2), len(batches))[:steps]
    return running.run_steps(training.train_step, {"discriminator": states[0], "generator": states[1]},
                             batches[:steps], step_keys, scan_chunk=5 if runner == "scan" else 0, progress=False,
                             **options)


@pytest.mark.parametrize("runner", ["loop", "scan"])
def test_divergence_stops_names_the_player_and_step_and_keeps_the_last_good_state(runner):
    bad_step = 13
    with pytest.raises(running.TrainingDiverged) as raised:
        run(mlp_states(), poisoned_batches(40, bad_step), 40, runner, description="ring GAN", check_every=20)
    error = raised.value
    assert error.step == bad_step
    assert error.culprits[0] == "discriminator" and "d_loss" in error.culprits  # D's loss saw the Inf first
    message = str(error)
    assert "ring GAN diverged at step 13: the discriminator's parameters became NaN or Inf" in message
    assert "then the generator's, updated against it" in message  # G took its step against the broken D
    assert "learning rate" in message and "gradient penalty" in message

    # the last good state is the one after steps 0..12 of the same run, which never saw the bad batch
    good, _ = run(mlp_states(), poisoned_batches(40, bad_step), bad_step, runner)
    for name in ("discriminator", "generator"):
        last = error.last_good_states[name]
        assert int(last.step) == bad_step
        for got, want in zip(jax.tree.leaves(last.params), jax.tree.leaves(good[name].params)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_a_learning_rate_far_too_high_is_caught_in_the_generator_or_discriminator():
    """A real divergence, not a planted one: D's Adam at lr 1e4 blows its weights up to Inf within steps."""
    d_state, g_state = mlp_states(discriminator_learning_rate=1e30)
    with pytest.raises(running.TrainingDiverged, match="diverged at step") as raised:
        training.train(d_state, g_state, ring_batches(300), jax.random.key(5), progress=False)
    assert raised.value.step < 300 and raised.value.culprits


def test_healthy_training_is_untouched_by_the_guard():
    """The guarded runner gives bitwise the numbers of the bare jitted step in a Python loop."""
    d_state, g_state = mlp_states()
    batches = ring_batches(12)
    step_keys = jax.random.split(jax.random.key(3), 12)
    bare_d, bare_g = d_state, g_state
    for batch, key in zip(batches, jax.random.split(jax.random.key(3), 12)):
        bare_d, bare_g, _ = training.train_step(bare_d, bare_g, batch, key)
    states, metrics = running.run_steps(training.train_step, {"discriminator": d_state, "generator": g_state},
                                        batches, step_keys, progress=False)
    assert identical(states["discriminator"].params, bare_d.params)
    assert identical(states["generator"].params, bare_g.params)
    assert metrics["d_loss"].shape == (12,) and np.isfinite(metrics["d_loss"]).all()


@pytest.mark.parametrize("runner", ["loop", "scan"])
def test_stopped_and_resumed_training_ends_where_an_uninterrupted_run_ends(runner, tmp_path):
    batches = ring_batches(30)
    uninterrupted, full_metrics = run(mlp_states(), batches, 30, runner)

    progress = running.Checkpointing(tmp_path / "progress.ckpt", every=10, run={"seed": 2, "steps": 30})

    def interrupt(step, *states):  # what a student's "interrupt the kernel" does to the loop
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the last checkpoint was written at step 20
        run(mlp_states(), batches, 30, runner, checkpointing=progress, callback=interrupt, callback_every=1)
    config = checkpoint.read_checkpoint_config(progress.path)
    assert config["completed_steps"] == 20
    # started again from scratch states: it must load step 20 and run only the last 10
    calls = []
    resumed, metrics = run(mlp_states(), batches, 30, runner, checkpointing=progress,
                           callback=lambda step, *states: calls.append(step), callback_every=1)
    # resumed after step 20, not from 0 (the scan runner calls back after each chunk of 5)
    assert calls[0] == (21 if runner == "loop" else 25) and calls[-1] == 30
    for name in ("discriminator", "generator"):
        assert int(resumed[name].step) == 30
        for got, want in zip(jax.tree.leaves(resumed[name].params), jax.tree.leaves(uninterrupted[name].params)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(metrics["d_loss"], full_metrics["d_loss"], rtol=1e-6)  # the whole history
    assert checkpoint.read_checkpoint_config(progress.path)["completed_steps"] == 30


@pytest.mark.parametrize("seconds, saves", [(0.0, [5, 10, 15, 20]), (3600.0, [20])])
def test_a_due_save_waits_for_its_seconds_and_the_end_always_saves(seconds, saves, tmp_path, monkeypatch):
    """On a GPU, saving every 500 steps would stall the device about once a second: ``seconds`` spaces them."""
    saved = []
    real_save = running._save_progress
    monkeypatch.setattr(running, "_save_progress", lambda checkpointing, names, states, metrics, completed, total: (
        saved.append(completed), real_save(checkpointing, names, states, metrics, completed, total)))
    progress = running.Checkpointing(tmp_path / "progress.ckpt", every=5, run={"seed": 3}, seconds=seconds)
    run(mlp_states(), ring_batches(20), 20, "loop", checkpointing=progress)
    assert saved == saves
    with pytest.raises(ValueError, match="seconds must be 0 or more"):
        running.Checkpointing(tmp_path / "other.ckpt", seconds=-1)


def test_progress_of_another_run_is_not_resumed(tmp_path):
    batches = ring_batches(10)
    path = tmp_path / "progress.ckpt"
    run(mlp_states(), batches, 10, "loop", checkpointing=running.Checkpointing(path, every=5, run={"seed": 1}))
    with pytest.raises(checkpoint.CheckpointError, match="progress of another run.*delete the file"):
        run(mlp_states(), batches, 10, "loop", checkpointing=running.Checkpointing(path, every=5, run={"seed": 2}))


def _train_command(out, data_dir, *extra):
    return [sys.executable, "-m", "gan_lessons.train", "dcgan", "--config", "cpu", "--epochs", "0.05",
            "--batch-size", "64", "--judge-samples", "0", "--data-dir", str(data_dir), "--out", str(out), *extra]


def test_training_killed_with_sigkill_resumes_and_matches_an_uninterrupted_run(tmp_path, data_dir):
    """The real thing: `python -m gan_lessons.train` killed mid-run with SIGKILL (no chance to clean up),
    started again with the same command, ends with the parameters of a run that was never interrupted."""
    environment = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "xla-cache"),
                   "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}  # the three runs compile once
    uninterrupted = tmp_path / "uninterrupted.ckpt"
    subprocess.run(_train_command(uninterrupted, data_dir), check=True, env=environment, capture_output=True)

    out = tmp_path / "interrupted.ckpt"
    progress = out.with_name(out.name + ".progress")
    every_ten_steps = ("--checkpoint-every", "10", "--checkpoint-seconds", "0")
    process = subprocess.Popen(_train_command(out, data_dir, *every_ten_steps), env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not progress.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()  # killed mid-run: no final checkpoint
    completed = checkpoint.read_checkpoint_config(progress)["completed_steps"]
    assert 10 <= completed < 46  # 0.05 epoch of 937 batches: 46 steps

    resumed = subprocess.run(_train_command(out, data_dir, *every_ten_steps), check=True, env=environment,
                             capture_output=True, text=True)
    assert f"resuming from {progress}" in resumed.stdout
    assert out.exists() and not progress.exists()  # finished: the progress file is cleaned up

    generator, discriminator = make_dcgan("cpu", jax.random.key(0))
    templates = {"generator": training.TrainState.create(generator, training.dcgan_optimizer()),
                 "discriminator": training.TrainState.create(discriminator, training.dcgan_optimizer())}
    want, _ = pretrained.load_players(uninterrupted, templates)
    got, config = pretrained.load_players(out, templates)
    for name in templates:
        for a, b in zip(jax.tree.leaves(got[name].params), jax.tree.leaves(want[name].params)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    fresh = templates["generator"].params
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(got["generator"].params),
                                                        jax.tree.leaves(fresh)))  # and it did train
