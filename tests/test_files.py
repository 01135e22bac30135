"""Atomic writes: the old file or the new one, never half of one, and no temporary file left behind."""

import json

import pytest

from gan_lessons import files


def test_the_new_file_appears_whole_when_the_block_ends(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("old")
    with files.atomic_file(path, "w") as file:
        file.write(json.dumps({"ACC": "0.975 ± 0.006"}, ensure_ascii=False))
        assert path.read_text() == "old"  # nothing of the new file shows before the rename
    # UTF-8 whatever the machine's locale (a chapter's record holds ± and names like Yazıcı)
    assert path.read_bytes() == json.dumps({"ACC": "0.975 ± 0.006"}, ensure_ascii=False).encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_rewritten_file_keeps_its_permissions_and_a_new_one_gets_the_usual(tmp_path):
    import os
    import stat

    shared = tmp_path / "shared.json"
    shared.write_text("old")
    shared.chmod(0o640)
    with files.atomic_file(shared, "w") as file:
        file.write("new")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640  # not mkstemp's private 0600
    umask = os.umask(0o022)
    try:
        with files.atomic_file(tmp_path / "new.json", "w") as file:
            file.write("{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644


def test_bytes_into_a_folder_that_does_not_exist_yet(tmp_path):
    path = tmp_path / "new" / "folder" / "weights.ckpt"
    with files.atomic_file(path) as file:
        file.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_an_error_inside_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path, error):
    path = tmp_path / "record.json"
    path.write_text("old")
    with pytest.raises(error):
        with files.atomic_file(path, "w", prefix=".record-") as file:
            file.write("half of the new")
            assert any(p.name.startswith(".record-") for p in tmp_path.iterdir())  # written beside it
            raise error
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_modes_other_than_a_new_file_are_refused(tmp_path):
    with pytest.raises(ValueError, match="'wb' or 'w'"):
        with files.atomic_file(tmp_path / "x", "a"):
            pass
