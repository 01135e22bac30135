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


def test_a_cell_run_before_the_cell_that_defines_its_names_says_what_to_do():
    """In a real kernel, as in a chapter: the first cell calls report_environment(); a later cell run
    out of order (or after a kernel restart) fails with a NameError that says which cells to run."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    errors = []

    def keep_errors(message):
        if message["msg_type"] == "error":
            errors.append(message["content"])

    try:
        client.execute_interactive("print(g_state.params)", timeout=60, output_hook=keep_errors)
        client.execute_interactive("from gan_lessons.notebook import report_environment\nreport_environment()",
                                   timeout=120, output_hook=keep_errors)
        client.execute_interactive("print(g_state.params)", timeout=60, output_hook=keep_errors)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    before, after = errors
    assert before["ename"] == after["ename"] == "NameError"
    assert "Run All Above" not in before["evalue"]  # plain Python before the chapter's first cell
    assert after["evalue"] == ("name 'g_state' is not defined: it is made by an earlier cell of this chapter that "
                               "has not run in this kernel (a restarted kernel forgets everything). Run the cells "
                               "above this one first: Run > Run All Above Selected Cell.")
