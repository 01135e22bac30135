"""Writing a file atomically: whoever reads it sees the old file or the new one, never half of one.

Checkpoints (and the progress saved during training), downloads, the chapters' records of long runs and the
notebooks a tool rewrites are all written this way, so that a crash, a full disk or Ctrl-C halfway through leaves
what was there before.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _mode_for(path: Path) -> int:
    """The permissions ``path`` has, or those a new file gets (read-write for all, less the umask)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
        os.fchmod(handle, _mode_for(path))  # mkstemp's file is private (0600): keep the mode a new file would get
        with os.fdopen(handle, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
