"""Run many training steps safely: a divergence guard, periodic checkpoints and resuming.

Every training loop of the course (``training.train``, the conditional GAN, the VAE, InfoGAN,
ClusterGAN, BiGAN) hands its jitted step to ``run_steps``, which adds two things around it.

**The divergence guard.** Inside the compiled step, each player's new parameters and every loss are
checked for NaN/Inf. A step that produces one is not applied: ``jnp.where`` keeps the previous state
on the device, so the last good state is never overwritten, and the step's number is recorded. The
host looks at that record only every ``check_every`` steps (one tiny transfer, not a sync per step)
and then raises ``TrainingDiverged``, naming the player, the step and the usual causes, and carrying
the last good states.

**Checkpoints and resume.** With ``Checkpointing(path, every, run)``, the states and the metrics so far
are written atomically (``checkpoint.save_checkpoint``) every ``every`` steps (no more often than every
``seconds``) and at the end. Started
again with the same ``run`` settings, training loads the file and carries on from the step it holds:
the batches and step keys are derived from the seed, so the resumed run computes exactly the steps
the interrupted one would have, and ends with the same parameters.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_lessons.checkpoint import CheckpointError, load_checkpoint, read_checkpoint_config, save_checkpoint
from gan_lessons.compiling import jit

PROGRESS_FORMAT = "gan_lessons-progress/1"

LIKELY_CAUSES = (
    "a learning rate too high for this loss (the DCGAN recipe: Adam 2e-4, beta1 0.5); "
    "a Wasserstein critic without a gradient penalty or weight clipping (Objective(gradient_penalty_weight=10)); "
    "real images outside [-1, 1] (data.load_mnist gives them in range); "
    "a log or a division reaching 0 (compute losses on logits, as gan_lessons.losses does)"
)


class TrainingDiverged(FloatingPointError):
    """A loss or a player's parameters became NaN or Inf.

    ``last_good_states``: the states (a dict by player name) just before the step that diverged;
    ``step``: that step's number (0-based, counted from the start of the run); ``culprits``: what
    was non-finite at that step, players in the order the step updates them (the first is the cause),
    then metric names.
    """

    def __init__(self, message: str, last_good_states: dict, step: int, culprits: list[str]):
        super().__init__(message)
        self.last_good_states = last_good_states
        self.step = step
        self.culprits = culprits


@dataclass(frozen=True)
class Checkpointing:
    """Save progress to ``path`` every ``every`` steps; resume from it when it holds the same ``run``.

    ``run``: the settings that define the run (a JSON-able dict: command, seed, epochs, ...). A file
    holding another run's progress is never resumed silently: loading it raises ``CheckpointError``.
    ``seconds``: skip a due save until this many seconds have passed since the last one. A save waits for
    the device and copies every state to the host: on a GPU, 500 steps take about a second, and saving that
    often would stall it. The end of training always saves.
    """

    path: str | Path
    every: int = 500
    run: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"Checkpointing.every must be at least 1 step, got {self.every}")
        if self.seconds < 0:
            raise ValueError(f"Checkpointing.seconds must be 0 or more, got {self.seconds}")

    def due(self, end: int, total: int, since_last_save: float) -> bool:
        """Whether to save after step ``end``: at every ``every`` steps once ``seconds`` have passed, and at the end."""
        return end == total or (end % self.every == 0 and since_last_save >= self.seconds)


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)
              if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def _guarded(step, static, states, healthy, first_bad, batch, key, index):
    """One step of ``step`` that is applied only while everything it produces is finite.

    Returns (states, healthy, first_bad, metrics, finite); ``finite`` says, per player and per
    metric, whether this step's result was finite, so the host can name the culprit afterwards.
    """
    *new_states, metrics = step(*states, *batch, key, **dict(static))
    finite = {"players": tuple(_all_finite((state.params, state.batch_stats)) for state in new_states),
              "metrics": {name: jnp.all(jnp.isfinite(value)) for name, value in metrics.items()}}
    step_ok = jnp.all(jnp.stack(jax.tree.leaves(finite)))
    keep = healthy & step_ok
    states = jax.tree.map(lambda new, old: jnp.where(keep, new, old), tuple(new_states), tuple(states))
    first_bad = jnp.where(healthy & ~step_ok, index, first_bad)
    return states, keep, first_bad, metrics, finite


@partial(jit, static_argnames=("step", "static"))
def guarded_step(step, static, states, healthy, first_bad, batch, key, index):
    """``_guarded`` compiled: the Python-loop runner (fastest for convolutional models on CPU)."""
    return _guarded(step, static, states, healthy, first_bad, batch, key, index)


@partial(jit, static_argnames=("step", "static"))
def guarded_scan(step, static, states, healthy, first_bad, batches, keys, indices):
    """``_guarded`` over a chunk of steps fused by ``lax.scan`` (fastest for dense models)."""
    def body(carry, inputs):
        states, healthy, first_bad = carry
        batch, key, index = inputs
        states, healthy, first_bad, metrics, finite = _guarded(step, static, states, healthy, first_bad,
                                                               batch, key, index)
        return (states, healthy, first_bad), (metrics, finite)

    (states, healthy, first_bad), (metrics, finite) = lax.scan(body, (states, healthy, first_bad),
                                                               (batches, keys, indices))
    return states, healthy, first_bad, metrics, finite


def _divergence(names, states, first_bad: int, finite_history, description: str) -> TrainingDiverged:
    finite = jax.tree.map(lambda flags: bool(np.asarray(flags)), finite_history(first_bad))
    players = [name for name, ok in zip(names, finite["players"]) if not ok]
    metrics = [metric for metric, ok in finite["metrics"].items() if not ok]
    # A step updates the players in order (D first): the first one that broke is the cause, the rest
    # broke because they were updated against it in the same step.
    what = (f"the {players[0]}'s parameters became NaN or Inf" if players else "a loss became NaN or Inf")
    also = ([f"then the {', '.join(players[1:])}'s, updated against it in the same step"] if players[1:] else [])
    also += [f"non-finite: {', '.join(metrics)}"] if metrics else []
    message = (f"{description} diverged at step {first_bad}: {what}" + (f" ({'; '.join(also)})" if also else "")
               + f". Likely causes: {LIKELY_CAUSES}. Training stopped; the states from before step {first_bad} "
               "(the last good ones) are in this error's .last_good_states.")
    return TrainingDiverged(message, dict(zip(names, states)), first_bad, players + metrics)


def _progress_template(names, states, metric_shapes, completed: int):
    metrics = {name: np.zeros((completed, *shape.shape), shape.dtype) for name, shape in metric_shapes.items()}
    return {"states": dict(zip(names, states)), "metrics": metrics}


def _resume(checkpointing: Checkpointing, names, states, metric_shapes, total: int):
    """(completed steps, states, metric history) from the progress file, or (0, states, None) if there is none."""
    path = Path(checkpointing.path)
    if not path.exists():
        return 0, states, None
    config = read_checkpoint_config(path)
    run = json.loads(json.dumps(checkpointing.run, sort_keys=True))
    if config.get("format") != PROGRESS_FORMAT or config.get("run") != run or config.get("total_steps") != total:
        raise CheckpointError(
            f"{path} holds the progress of another run (its settings: {config.get('run')}, "
            f"{config.get('total_steps')} steps; this run: {run}, {total} steps). Run that command again to "
            "resume it, or delete the file to start this one afresh.")
    completed = int(config["completed_steps"])
    stored, _ = load_checkpoint(path, _progress_template(names, states, metric_shapes, completed))
    return completed, tuple(stored["states"][name] for name in names), stored["metrics"]


def _save_progress(checkpointing: Checkpointing, names, states, metrics, completed: int, total: int):
    save_checkpoint(checkpointing.path, {"states": dict(zip(names, states)), "metrics": metrics},
                    {"format": PROGRESS_FORMAT, "run": checkpointing.run, "completed_steps": completed,
                     "total_steps": total})


class _Run:
    """The state of one ``run_steps`` call: the players' states, the guard's flags and the history so far."""

    def __init__(self, step, states: dict, static: tuple, scan_chunk: int, description: str):
        self.step, self.static, self.scan_chunk, self.description = step, static, scan_chunk, description
        self.names, self.states = list(states), tuple(states.values())
        self.healthy, self.first_bad = jnp.bool_(True), jnp.int32(-1)  # on the device: no sync per step
        self.history = []  # per call: (metrics, finite), with a leading step axis when the call ran a scan
        self.completed = self.history_start = 0  # steps done before this call; the step ``history`` starts at
        self.stored_metrics = None  # the metrics already on the host (resumed or saved)

    def resume(self, checkpointing: Checkpointing, batches: tuple, step_keys):
        """Load the progress file, if there is one: the steps done, their states and their metrics."""
        abstract = jax.tree.map(lambda array: jax.ShapeDtypeStruct(array.shape[1:], array.dtype),
                                (batches, step_keys))  # one step's inputs, shapes only
        shapes = jax.eval_shape(partial(guarded_step, self.step, self.static), self.states, self.healthy,
                                self.first_bad, *abstract, jnp.int32(0))[3]
        self.completed, self.states, self.stored_metrics = _resume(checkpointing, self.names, self.states, shapes,
                                                                   len(step_keys))
        self.history_start = self.completed

    def advance(self, batches: tuple, step_keys, start: int, end: int):
        """Steps ``start`` to ``end``: one guarded step, or a guarded scan over them."""
        if self.scan_chunk:
            outputs = guarded_scan(self.step, self.static, self.states, self.healthy, self.first_bad,
                                   tuple(array[start:end] for array in batches), step_keys[start:end],
                                   jnp.arange(start, end, dtype=jnp.int32))
        else:
            outputs = guarded_step(self.step, self.static, self.states, self.healthy, self.first_bad,
                                   tuple(array[start] for array in batches), step_keys[start], jnp.int32(start))
        self.states, self.healthy, self.first_bad, metrics, finite = outputs
        self.history.append((metrics, finite))

    def _stacked(self, entries):
        join = np.concatenate if self.scan_chunk else np.stack
        return jax.tree.map(lambda *values: join(values), *jax.device_get(entries))

    def check(self):
        """Raise ``TrainingDiverged`` if a step went bad: the one host sync of the guard."""
        if bool(self.healthy):
            return

        def finite_at(index):
            finite = self._stacked([finite for _, finite in self.history])
            return jax.tree.map(lambda flags: flags[index - self.history_start], finite)

        raise _divergence(self.names, self.states, int(self.first_bad), finite_at, self.description)

    def metrics_so_far(self):
        parts = ([self.stored_metrics] if self.stored_metrics is not None else []) + (
            [self._stacked([metrics for metrics, _ in self.history])] if self.history else [])
        return jax.tree.map(lambda *values: np.concatenate(values), *parts)

    def save(self, checkpointing: Checkpointing, end: int, total: int):
        self.check()  # only healthy states are saved
        self.stored_metrics, self.history, self.history_start = self.metrics_so_far(), [], end  # to the host, once
        _save_progress(checkpointing, self.names, self.states, self.stored_metrics, end, total)


def _checked_batches(batches, total: int) -> tuple:
    batches = batches if isinstance(batches, tuple) else (batches,)
    if any(len(array) != total for array in batches):
        raise ValueError(f"each batch array needs one entry per step ({total}); got lengths "
                         f"{[len(array) for array in batches]}")
    if total == 0:
        raise ValueError("no steps to run: pass at least one step key")
    return batches


def run_steps(step, states: dict, batches, step_keys, *, static: dict | None = None, description="training",
              progress=True, scan_chunk: int = 0, check_every: int = 100, callback=None, callback_every: int = 0,
              checkpointing: Checkpointing | None = None):
    """Run ``step`` once per entry of ``step_keys``, guarded against divergence; return (states, metrics).

    ``step(*states, *batch, key, **static)`` returns ``(*new_states, metrics)``: a jitted training step.
    ``states``: the players' states by name, in the order ``step`` takes them. ``batches``: an array
    (steps, ...) or a tuple of such arrays (images and labels), sliced per step. ``scan_chunk`` > 0 fuses
    that many steps per call with ``lax.scan``; 0 calls ``step`` from a Python loop. ``callback(step,
    *states)`` runs every ``callback_every`` steps. The metrics come back as numpy arrays, one entry per step.
    """
    from tqdm.auto import tqdm

    total = len(step_keys)
    batches = _checked_batches(batches, total)
    run = _Run(step, states, tuple(sorted((static or {}).items())), scan_chunk, description)
    if checkpointing is not None:
        run.resume(checkpointing, batches, step_keys)
    since_check, last_save = 0, time.monotonic()
    with tqdm(total=total, initial=run.completed, desc=description, disable=not progress, leave=False) as bar:
        start = run.completed
        while start < total:
            end = min(start + max(scan_chunk, 1), total)
            if checkpointing is not None:  # a chunk never crosses a checkpoint
                end = min(end, (start // checkpointing.every + 1) * checkpointing.every)
            run.advance(batches, step_keys, start, end)
            bar.update(end - start)
            since_check += end - start
            if since_check >= check_every or end == total:
                run.check()
                since_check = 0
            if callback is not None and callback_every and (start // callback_every) != (end // callback_every):
                run.check()
                callback(end, *run.states)
            if checkpointing is not None and checkpointing.due(end, total, time.monotonic() - last_save):
                run.save(checkpointing, end, total)
                last_save = time.monotonic()
            start = end
    return dict(zip(run.names, run.states)), run.metrics_so_far()
