import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gan_lessons.idx import parse_idx, read_idx_file


def idx_bytes(array: np.ndarray, type_code=0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.tobytes()


def test_round_trip_of_a_small_image_file():
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(array))
    np.testing.assert_array_equal(parsed, array)


def test_big_endian_int32_elements():
    array = np.array([1, -2, 70000], dtype=">i4")
    np.testing.assert_array_equal(parse_idx(idx_bytes(array, 0x0C)), [1, -2, 70000])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "magic"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05", "element type"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x01", "ends after"),
        (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"\x01\x02", "truncated"),
        (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x01\x02", "holds 2 data bytes"),
    ],
)
def test_malformed_headers_raise_value_error_naming_the_file(data, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_idx(data, name="broken.idx")
    assert "broken.idx" in str(error.value)


def test_a_header_claiming_a_huge_array_is_rejected_without_allocating_it():
    # 4 billion × 4 billion × 4 billion bytes claimed, 10 bytes present
    data = b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3 + b"\x00" * 10
    with pytest.raises(ValueError, match="truncated"):
        parse_idx(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_fuzzed_bytes_give_an_array_or_a_value_error(data):
    try:
        array = parse_idx(data)
    except ValueError:
        return
    # whatever parses accounts for every byte of the input
    assert 4 + 4 * array.ndim + array.nbytes == len(data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=3),
    st.integers(-3, 3),
    st.data(),
)
def test_fuzzed_valid_files_parse_and_wrong_lengths_fail(shape, length_change, draw):
    array = np.asarray(draw.draw(st.lists(st.integers(0, 255), min_size=int(np.prod(shape)),
                                          max_size=int(np.prod(shape)))), dtype=np.uint8).reshape(shape)
    data = idx_bytes(array)
    if length_change > 0:
        data += b"\x00" * length_change
    elif length_change < 0:
        data = data[:length_change]
    if length_change == 0:
        np.testing.assert_array_equal(parse_idx(data), array)
    else:
        with pytest.raises(ValueError):
            parse_idx(data)


def test_gzip_files_and_truncated_gzip(tmp_path):
    array = np.arange(100, dtype=np.uint8).reshape(10, 10)
    good = tmp_path / "good-idx2-ubyte.gz"
    good.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx_file(good), array)
    truncated = tmp_path / "truncated-idx2-ubyte.gz"
    truncated.write_bytes(good.read_bytes()[:-12])
    with pytest.raises(ValueError, match="truncated-idx2-ubyte.gz"):
        read_idx_file(truncated)
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="garbage.gz"):
        read_idx_file(garbage)


def test_gzip_bomb_is_capped(tmp_path):
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\x00" * 2_000_000))
    with pytest.raises(ValueError, match="decompresses to more than"):
        read_idx_file(bomb, max_bytes=1_000_000)


def test_the_real_mnist_files(data_dir):
    images = read_idx_file(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz")
    labels = read_idx_file(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
