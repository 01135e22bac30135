"""Writing a file atomically: whoever reads it sees the old file or the new one, never half of one.

Checkpoints, downloads and the chapters' records of long runs are all written this way, so that a crash, a
full disk or Ctrl-C halfway through leaves what was there before.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb", prefix: str | None = None):
    """Open a temporary file beside ``path`` for writing (``mode`` "wb" or "w"); when the ``with`` block ends
    without an error, flush it to the disk and rename it to ``path`` (``os.replace``: atomic on one file system).
    An error inside the block deletes the temporary file and leaves ``path`` as it was.

    ``prefix``: the temporary file's name starts with it (default ``.<name>-``); it always ends in ``.part``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w' (a new file, bytes or text), got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix or f".{path.name}-", suffix=".part")
    try:
        with os.fdopen(handle, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
