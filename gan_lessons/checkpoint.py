"""Save and load both players' training state: atomic, checksummed, never pickle.

A checkpoint file is one msgpack map:

    format   "gan_lessons-checkpoint/1"
    config   JSON text describing what was saved (architecture, step, ...)
    sha256   SHA-256 of ``payload``
    payload  msgpack bytes: {"path/of/leaf": {"dtype", "shape", "data"}, ...}

Leaves are addressed by their pytree path, so loading checks the names, shapes
and dtypes against a template state built by the caller (the model it expects),
and a checkpoint of another architecture fails with a message naming the first
mismatch. msgpack decodes only plain data: no code runs while loading.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jax
import msgpack
import numpy as np

from gan_lessons.files import atomic_file

FORMAT = "gan_lessons-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file is damaged or does not fit the state it is loaded into."""


def _leaves_by_path(tree) -> dict[str, np.ndarray]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def _encode(tree) -> bytes:
    encoded = {}
    for path, array in _leaves_by_path(tree).items():
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise TypeError(f"cannot save leaf {path} of dtype {array.dtype}: only numeric arrays are saved")
        encoded[path] = {"dtype": array.dtype.str, "shape": list(array.shape),
                         "data": np.ascontiguousarray(array).tobytes()}
    return msgpack.packb(encoded, use_bin_type=True)


def save_checkpoint(path: str | Path, state, config: dict | None = None) -> Path:
    """Write ``state`` (any pytree of arrays, e.g. {"d": d_state, "g": g_state}) atomically."""
    path = Path(path)
    payload = _encode(state)
    record = {
        "format": FORMAT,
        "config": json.dumps(config or {}, sort_keys=True),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": payload,
    }
    with atomic_file(path) as file:  # readers see the old file or the new one, never half of one
        file.write(msgpack.packb(record, use_bin_type=True))
    return path


def read_checkpoint_config(path: str | Path) -> dict:
    """The configuration stored with a checkpoint (after verifying its checksum)."""
    return _read_record(Path(path))[0]


def _read_record(path: Path) -> tuple[dict, dict]:
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        record = msgpack.unpackb(path.read_bytes(), raw=False)
    except Exception as error:  # msgpack raises several types for garbage
        raise CheckpointError(f"{path} is not a gan_lessons checkpoint (unreadable: {error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gan_lessons checkpoint (expected format {FORMAT!r})")
    payload = record.get("payload")
    if not isinstance(payload, bytes) or hashlib.sha256(payload).hexdigest() != record.get("sha256"):
        raise CheckpointError(f"{path} is damaged: its checksum does not match its contents")
    try:
        return json.loads(record["config"]), msgpack.unpackb(payload, raw=False)
    except Exception as error:
        raise CheckpointError(f"{path} is damaged: {error}") from error


def load_checkpoint(path: str | Path, template):
    """Load a checkpoint into the structure of ``template``; return (state, config).

    Every leaf of the template must be present with the same shape and dtype.
    """
    path = Path(path)
    config, stored = _read_record(path)
    expected = _leaves_by_path(template)
    missing = [name for name in expected if name not in stored]
    unexpected = [name for name in stored if name not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match the model it is loaded into (saved with config {config}): "
            f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}"
        )
    arrays = []
    for name, want in expected.items():
        entry = stored[name]
        shape, dtype = tuple(entry["shape"]), np.dtype(entry["dtype"])
        if shape != want.shape or dtype != want.dtype:
            raise CheckpointError(
                f"{path}: {name} has shape {shape} {dtype} in the checkpoint but {want.shape} {want.dtype} "
                f"in the model; the checkpoint was made for another architecture (its config: {config})"
            )
        if len(entry["data"]) != dtype.itemsize * int(np.prod(shape)):
            raise CheckpointError(f"{path} is damaged: {name} holds the wrong number of bytes")
        arrays.append(np.frombuffer(entry["data"], dtype=dtype).reshape(shape).copy())
    treedef = jax.tree_util.tree_structure(template)
    return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(a) for a in arrays]), config
