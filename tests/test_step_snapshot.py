"""tools/step_snapshot.py: comparing two snapshots names every array that is missing or not bitwise equal."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import step_snapshot  # noqa: E402


def test_compare_finds_a_changed_bit_and_a_missing_array(tmp_path):
    before = {"step/params": np.arange(6, dtype=np.float32), "step/loss": np.float32(0.5)}
    assert step_snapshot.compare(before, {name: value.copy() for name, value in before.items()}) == []
    nudged = {**before, "step/params": np.nextafter(before["step/params"], np.float32(9))}  # one ulp up
    assert step_snapshot.compare(before, nudged) == ["differs: step/params"]
    assert step_snapshot.compare(before, {"step/loss": before["step/loss"]}) == ["only in the first: step/params"]
    np.savez(tmp_path / "a.npz", **before)
    np.savez(tmp_path / "b.npz", **nudged)
    assert step_snapshot.main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "a.npz")]) == 0
    assert step_snapshot.main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]) == 1
