"""Verified, atomic downloads from a list of mirrors.

A file is streamed into a temporary file beside its destination while its
SHA-256 is computed; only when the hash matches the pinned value is it renamed
into place (``os.replace`` is atomic on one file system). A wrong hash, a
truncated transfer or an unreachable mirror leaves nothing behind and moves on
to the next mirror.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from gan_lessons.files import atomic_file

CHUNK_BYTES = 1 << 20
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class DownloadError(RuntimeError):
    """Every mirror failed for one file; the message lists why for each."""


class _MirrorFailed(Exception):
    """One mirror failed (unreachable, cut short, too large, wrong hash): try the next."""


def sha256_of_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    # Plain HTTP only for a test server on this machine.
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        raise ValueError(f"refusing to download {url}: only https:// mirrors are allowed")


def _fetch(url: str, out, max_bytes: int, timeout: float) -> str:
    """Stream url into the open file ``out``; return the SHA-256 of what arrived."""
    _check_url(url)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        declared = response.headers.get("Content-Length")
        if declared is not None and int(declared) > max_bytes:
            raise DownloadError(f"{url}: server declares {declared} bytes, over the {max_bytes}-byte cap")
        received = 0
        # read1: whatever has arrived (up to a chunk), so the file grows as the bytes come in
        for chunk in iter(lambda: response.read1(CHUNK_BYTES), b""):
            received += len(chunk)
            if received > max_bytes:
                raise DownloadError(f"{url}: more than the {max_bytes}-byte cap")
            digest.update(chunk)
            out.write(chunk)
        if declared is not None and received != int(declared):
            raise DownloadError(f"{url}: got {received} of {declared} bytes; the transfer was cut short")
    return digest.hexdigest()


def download_verified(
    urls: list[str],
    destination: str | Path,
    sha256: str,
    max_bytes: int = 64 * 1024 * 1024,
    timeout: float = 30.0,
) -> Path:
    """Download the first mirror whose bytes hash to ``sha256`` into ``destination``.

    Raises ``DownloadError`` naming each mirror and why it failed if none did.
    """
    destination = Path(destination)
    failures = []
    for url in urls:
        try:
            with atomic_file(destination, prefix=".download-") as out:  # renamed into place only if it verifies
                try:
                    digest = _fetch(url, out, max_bytes, timeout)
                except (OSError, ValueError, DownloadError, urllib.error.URLError) as error:
                    raise _MirrorFailed(f"{url}: {error}") from error
                if digest != sha256:
                    raise _MirrorFailed(f"{url}: SHA-256 {digest} does not match the expected {sha256}")
            return destination
        except _MirrorFailed as failure:  # the next mirror; a file that cannot be written here is raised as it is
            failures.append(str(failure))
    raise DownloadError(f"could not download {destination.name}:\n  " + "\n  ".join(failures))
