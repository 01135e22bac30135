import jax.numpy as jnp

from gan_lessons import losses
from gan_lessons.notebook import check_answer, smoke_mode

INPUTS = [(jnp.array([-3.0, 0.0, 2.5]),), (jnp.array([10.0]),)]


def test_check_answer_verdicts(capsys):
    assert check_answer(lambda x: -jnp.mean(losses.log_d(x)), losses.g_loss_non_saturating, INPUTS)
    assert "correct" in capsys.readouterr().out
    assert not check_answer(None, losses.g_loss_non_saturating, INPUTS)
    assert "not attempted" in capsys.readouterr().out
    assert not check_answer(lambda x: jnp.mean(losses.log_d(x)), losses.g_loss_non_saturating, INPUTS)
    assert "sign is flipped" in capsys.readouterr().out
    assert not check_answer(lambda x: -losses.log_d(x), losses.g_loss_non_saturating, INPUTS)
    assert "shape" in capsys.readouterr().out
    # the saturating loss in place of the non-saturating one: a value mismatch
    assert not check_answer(losses.g_loss_saturating, losses.g_loss_non_saturating, INPUTS)
    assert "differs" in capsys.readouterr().out
    assert not check_answer(lambda x: 1 / 0, losses.g_loss_non_saturating, INPUTS)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_smoke_mode_follows_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert smoke_mode()
    monkeypatch.setenv("CI", "false")
    assert not smoke_mode()
    monkeypatch.delenv("CI")
    assert not smoke_mode()
