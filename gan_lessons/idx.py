"""The IDX file format of MNIST and Fashion-MNIST, parsed defensively.

An IDX file is a big-endian header followed by the raw array:

    bytes 0-1   zero
    byte  2     element type (0x08 = uint8, ...)
    byte  3     number of dimensions d
    d × uint32  the size of each dimension
    then        prod(sizes) elements, row-major

The parser checks every one of these against the bytes it was given before it
creates an array, so a malformed or truncated file gives a ``ValueError`` that
names the file, never a huge allocation or a silently wrong array.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

# element type code -> numpy dtype (IDX data is big-endian)
IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The largest decompressed file we accept: Fashion-MNIST's training images are
# 47 MB, so this only stops a corrupt or hostile gzip stream from filling memory.
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into a read-only array."""
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header (needs at least 4)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{data[:4].hex()} (the first two bytes must be zero); "
            "is this an IDX file, and was it decompressed?"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise ValueError(f"{name}: unknown IDX element type 0x{type_code:02x} in magic number 0x{data[:4].hex()}")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(f"{name}: header declares {ndim} dimensions but the file ends after {len(data)} bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    actual = len(data) - header_bytes
    if actual != expected:
        raise ValueError(
            f"{name}: header says shape {shape} of {dtype} ({expected} data bytes) "
            f"but the file holds {actual} data bytes; the file is truncated or corrupt"
        )
    # frombuffer makes a view: no allocation beyond the bytes we already hold
    return np.frombuffer(data, dtype=dtype, offset=header_bytes).reshape(shape)


def read_idx_file(path: str | Path, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> np.ndarray:
    """Read an IDX file, gzip'd (``.gz``) or not, with a cap on its decompressed size."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            # Stream the decompression so a gzip bomb stops at max_bytes.
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = decompressor.decompress(raw, max_bytes + 1)
            if len(data) > max_bytes:
                raise ValueError(f"{path}: decompresses to more than {max_bytes} bytes; not an MNIST-sized IDX file")
            if not decompressor.eof:
                raise ValueError(f"{path}: the gzip stream ends early; the file is truncated")
        except (zlib.error, gzip.BadGzipFile, EOFError) as error:
            raise ValueError(f"{path}: not a valid gzip file ({error})") from error
    else:
        data = raw
    return parse_idx(data, name=str(path))
