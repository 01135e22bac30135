"""tools/dcgan_ladder.py: a run is judged and recorded, and chapter 04's record holds what the chapter reads
(seeds 0-2 for each rung it records, each for the rung's full epochs)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import dcgan_ladder  # noqa: E402

RECORD = Path(__file__).resolve().parent.parent / "notebooks/results/04_ladder.json"


def test_a_short_run_is_judged_and_recorded(tmp_path, capsys):
    record = tmp_path / "ladder.json"
    record.write_text(json.dumps({"runs": []}))
    dcgan_ladder.main(["shipped", "0", "--epochs", "0.003", "--record", str(record)])
    (run,) = json.loads(record.read_text())["runs"]
    assert (run["rung"], run["seed"], run["steps"]) == ("shipped", 0, 3)
    for kind in ("live", "average"):
        assert set(run[kind]) == {"confidence", "smallest", "largest", "fd"}
        assert run[kind]["fd"] > 100  # three steps from scratch: far from the digits
    assert run["live"] != run["average"]  # the average is judged on its own weights, not the last ones
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == run
    assert list(tmp_path.iterdir()) == [record]  # written in place of the old record, no temporary file left
    assert json.loads(record.read_text())["rungs"] == {"shipped": dcgan_ladder.RUNGS["shipped"].description}


def test_a_rung_trains_for_its_own_epochs_unless_told(monkeypatch):
    asked = []

    def stop_after_training(rung, seed, epochs, images):
        asked.append(epochs)
        raise KeyboardInterrupt  # enough: the epochs it was asked for are known

    monkeypatch.setattr(dcgan_ladder, "train_rung", stop_after_training)
    for argv in (["longer", "0"], ["longer", "0", "--epochs", "0.5"], ["ttur", "1"]):
        with pytest.raises(KeyboardInterrupt):
            dcgan_ladder.main(argv)
    assert asked == [24.0, 0.5, 8.0]


def test_chapter_04s_record_has_seeds_0_to_2_for_the_full_epochs_of_each_recorded_rung():
    recorded = json.loads(RECORD.read_text())
    assert set(recorded["rungs"]) <= set(dcgan_ladder.RUNGS) and "shipped" in recorded["rungs"]
    assert {run["rung"] for run in recorded["runs"]} == set(recorded["rungs"])  # every run's rung described
    for rung, description in recorded["rungs"].items():
        assert description == dcgan_ladder.RUNGS[rung].description
        runs = [run for run in recorded["runs"] if run["rung"] == rung]
        assert sorted(run["seed"] for run in runs) == [0, 1, 2], rung
        epochs = dcgan_ladder.RUNGS[rung].epochs
        assert all(run["epochs"] == epochs and run["steps"] == epochs * (60_000 // 64) for run in runs), rung


def test_an_infogan_checkpoint_made_by_the_train_command_is_judged_and_recorded_apart(tmp_path, data_dir, capsys):
    from gan_lessons import pretrained, train
    from gan_lessons.checkpoint import CheckpointError

    out, record = tmp_path / "infogan_real.ckpt", tmp_path / "ladder.json"
    train.main(["infogan", "--real-weight", "1", "--shear", "0.3", "--epochs", "0.002", "--seed", "3",
                "--data-dir", str(data_dir), "--out", str(out)])
    record.write_text(json.dumps({"runs": [], "rungs": {}}))
    dcgan_ladder.main(["--judge-checkpoint", str(out), "--record", str(record)])
    recorded = json.loads(record.read_text())
    assert recorded["runs"] == [] and recorded["rungs"] == {}  # not a rung
    (run,) = recorded["label_free"]
    assert (run["model"], run["seed"], run["epochs"]) == ("infogan_real", 3, 0.002)
    assert run["command"].startswith("python -m gan_lessons.train infogan --real-weight 1 --shear 0.3")
    assert set(run["scores"]) == {"confidence", "smallest", "largest", "fd"} and run["scores"]["fd"] > 100
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == run
    for mixed in (["shipped", "0"], ["shipped"], ["--epochs", "2"]):  # a rung's settings with a checkpoint: which?
        with pytest.raises(SystemExit):
            dcgan_ladder.main([*mixed, "--judge-checkpoint", str(out), "--record", str(record)])
    assert json.loads(record.read_text()) == recorded  # nothing recorded by the refused calls
    with pytest.raises(CheckpointError, match="does not match the model"):  # InfoGAN's, on the course's networks
        dcgan_ladder.main(["--judge-checkpoint", str(pretrained.checkpoint_path("dcgan_cpu_mnist"))])
    with pytest.raises(SystemExit, match="fashion_mnist"):  # the MNIST judge would misjudge it
        dcgan_ladder.main(["--judge-checkpoint", str(pretrained.checkpoint_path("infogan_real_fashion_mnist"))])


def test_the_recorded_shipped_infogan_is_what_the_tool_judges_in_the_shipped_checkpoint(capsys):
    from gan_lessons import pretrained

    dcgan_ladder.main(["--judge-checkpoint", str(pretrained.checkpoint_path("infogan_real_mnist"))])
    judged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (recorded,) = [run for run in json.loads(RECORD.read_text())["label_free"]
                   if run["command"] == judged["command"]]  # the shipped run's row: seed 2
    assert judged["scores"]["confidence"] == pytest.approx(recorded["scores"]["confidence"], abs=0.002)
    assert judged["scores"]["fd"] == pytest.approx(recorded["scores"]["fd"], abs=0.5)  # another machine: not bitwise


def test_chapter_04s_record_has_seeds_0_to_2_of_each_label_free_infogan_for_8_epochs():
    runs = json.loads(RECORD.read_text())["label_free"]
    for model, options in (("infogan", ""), ("infogan_real", " --real-weight 1 --shear 0.3")):
        made = [run for run in runs if run["model"] == model]
        assert sorted(run["seed"] for run in made) == [0, 1, 2], model
        for run in made:  # each by the train command, as the shipped one of the three was
            assert run["epochs"] == 8 and run["command"].startswith("python -m gan_lessons.train infogan" + options)
            assert f"--seed {run['seed']}" in run["command"]
            assert not any(f"--{option}" in run["command"] for option in ("validation", "networks", "noise", "dataset"))
