import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import losses
from gan_lessons.notebook import check_answer, mean_sd, recorded_results, smoke_mode

INPUTS = [(jnp.array([-3.0, 0.0, 2.5]),), (jnp.array([10.0]),)]


def random_logits(key):
    """One random draw of the arguments of a discriminator loss: real and fake logits of different sizes."""
    real_key, fake_key = jax.random.split(key)
    return 4 * jax.random.normal(real_key, (7,)), 4 * jax.random.normal(fake_key, (5,))


def verdict(capsys, *args, **kwargs) -> tuple[bool, str]:
    passed = check_answer(*args, **kwargs)
    return passed, capsys.readouterr().out


def test_a_right_answer_passes_on_fixed_and_on_random_inputs(capsys):
    passed, said = verdict(capsys, lambda x: -jnp.mean(losses.log_d(x)), losses.g_loss_non_saturating, INPUTS)
    assert passed and "correct on all 2 test inputs" in said
    passed, said = verdict(capsys, lambda real, fake: -jnp.mean(losses.log_d(real)) - jnp.mean(losses.log_d(-fake)),
                           losses.d_loss, random_logits, trials=4)
    assert passed and "correct on all 4 test inputs" in said


def test_a_structure_check_is_asked_only_once_the_numbers_are_right_and_decides_the_verdict(capsys):
    asked = []

    def loops(answer):
        asked.append(answer)
        return "it loops" if answer is looping else None

    def looping(x):
        return -jnp.mean(jnp.stack([losses.log_d(value) for value in x]))

    passed, said = verdict(capsys, looping, losses.g_loss_non_saturating, INPUTS, structure=loops)
    assert not passed and said == "your answer: not accepted yet. The numbers are right on all 2 test inputs, " \
                                  "but it loops\n" and asked == [looping]
    passed, said = verdict(capsys, lambda x: -jnp.mean(losses.log_d(x)), losses.g_loss_non_saturating, INPUTS,
                           structure=loops)
    assert passed and "correct on all 2 test inputs" in said and len(asked) == 2
    passed, said = verdict(capsys, lambda x: jnp.mean(losses.log_d(x)), losses.g_loss_non_saturating, INPUTS,
                           structure=loops)
    assert not passed and "not accepted" not in said and len(asked) == 2  # wrong numbers: their verdict only


def test_not_attempted_no_return_and_a_crash_are_named(capsys):
    for student in (None, lambda x: (_ for _ in ()).throw(NotImplementedError)):
        passed, said = verdict(capsys, student, losses.g_loss_non_saturating, INPUTS)
        assert not passed and "not attempted yet" in said

    def forgot_return(x):
        jnp.mean(x)

    passed, said = verdict(capsys, forgot_return, losses.g_loss_non_saturating, INPUTS)
    assert not passed and "returned None" in said and "return" in said
    passed, said = verdict(capsys, lambda x: 1 / 0, losses.g_loss_non_saturating, INPUTS)
    assert not passed and "raised ZeroDivisionError" in said


def test_wrong_sign(capsys):
    passed, said = verdict(capsys, losses.value_function, lambda real, fake: -losses.value_function(real, fake),
                           random_logits)
    assert not passed and "the sign is flipped" in said


def test_wrong_axis_says_which_axis_was_reduced_and_which_was_wanted(capsys):
    scores = [(jnp.arange(12.0).reshape(3, 4),)]
    passed, said = verdict(capsys, lambda x: jnp.mean(x, axis=0), lambda x: jnp.mean(x, axis=1), scores)
    assert not passed
    assert "returned shape (4,), expected (3,)" in said and "you reduced over axis 0" in said
    assert "the reference reduces over axis 1 (wrong axis)" in said
    passed, said = verdict(capsys, lambda x: -losses.log_d(x), losses.g_loss_non_saturating, INPUTS)
    assert not passed and "a missing mean (or sum) over the batch?" in said
    passed, said = verdict(capsys, lambda x: x.T, lambda x: x, scores)
    assert not passed and "transposed" in said


def test_saturating_instead_of_non_saturating_is_named(capsys):
    passed, said = verdict(capsys, lambda fake: jnp.mean(jnp.log(1 - jax.nn.sigmoid(fake))),
                           losses.g_loss_non_saturating, INPUTS)
    assert not passed and "the saturating (minimax) loss" in said and "−E[log D(G(z))]" in said
    passed, said = verdict(capsys, losses.g_loss_non_saturating, losses.g_loss_saturating, INPUTS)
    assert not passed and "this looks like the non-saturating loss" in said


def test_swapped_arguments_and_the_value_function_for_the_loss(capsys):
    swapped = lambda real, fake: -jnp.mean(losses.log_d(fake)) - jnp.mean(losses.log_one_minus_d(real))
    passed, said = verdict(capsys, swapped, losses.d_loss, random_logits)
    assert not passed and "real and fake logits swapped" in said
    passed, said = verdict(capsys, losses.value_function, losses.d_loss, random_logits)
    assert not passed and "the value function V(D, G) itself" in said


def test_a_sum_for_a_mean_an_offset_and_a_log_of_zero(capsys):
    three_logits = lambda key: (jax.random.normal(key, (3,)),)
    passed, said = verdict(capsys, lambda x: jnp.sum(-losses.log_d(x)), losses.g_loss_non_saturating, three_logits)
    assert not passed and "every value is 3 × the reference's: a sum where a mean is wanted" in said
    value_plus_log_4 = lambda real, fake: (jnp.mean(losses.log_d(real)) + jnp.mean(losses.log_one_minus_d(fake))
                                           + jnp.log(4.0))
    passed, said = verdict(capsys, value_plus_log_4, losses.value_function, random_logits)
    assert not passed and "off by the same +1.38629" in said and "constant term" in said
    passed, said = verdict(capsys, lambda fake: -jnp.mean(jnp.log(jax.nn.sigmoid(fake))),
                           losses.g_loss_non_saturating, [(jnp.array([-200.0, 1.0]),)])
    assert not passed and "NaN or ±inf" in said and "softplus" in said


def test_a_mistake_passed_by_the_caller_is_named_and_later_inputs_are_reported(capsys):
    half = lambda x: 0.5 * jnp.mean(x ** 2)
    passed, said = verdict(capsys, lambda x: jnp.mean(x ** 2), half, INPUTS,
                           mistakes={"the ½ left out": lambda x: jnp.mean(x ** 2)})
    assert not passed and "this looks like the ½ left out" in said
    right_only_on_small = lambda x: jnp.where(jnp.abs(x) < 5, -losses.log_d(x), 0.0).mean()
    passed, said = verdict(capsys, right_only_on_small, losses.g_loss_non_saturating, INPUTS)
    assert not passed and "differs from the reference on input 2: got 0, expected 4.53989e-05" in said
    assert "(right on 1 of the 2 inputs)" in said


def test_random_inputs_come_from_the_key(capsys):
    seen = []
    record = lambda real, fake: seen.append(float(real[0])) or losses.d_loss_hinge(real, fake)
    for _ in range(2):
        check_answer(record, losses.d_loss, random_logits, key=jax.random.key(3), trials=2)
    check_answer(record, losses.d_loss, random_logits, key=jax.random.key(4), trials=2)
    assert seen[:2] == seen[2:4] and seen[4:] != seen[:2]


def test_an_answer_that_calls_the_library_function_it_should_write_is_told_so(capsys):
    """However the answer reaches it: through its module, a name imported into the answer's globals, or a
    function the check names besides the reference. Afterwards every name points at the library's function."""
    wrapper = lambda real, fake: losses.d_loss(real, fake)
    imported = eval("lambda real, fake: d_loss(real, fake)", {"d_loss": losses.d_loss})  # noqa: S307
    for answer in (wrapper, imported):
        passed, said = verdict(capsys, answer, losses.d_loss, random_logits)
        assert not passed and "calls gan_lessons.losses.d_loss, which this check withholds" in said
    from_the_table = lambda real, fake: losses.DISCRIMINATOR_LOSSES["cross_entropy"](real, fake)
    passed, said = verdict(capsys, from_the_table, losses.d_loss, random_logits)
    assert not passed and "calls gan_lessons.losses.d_loss, which this check withholds" in said
    assert losses.DISCRIMINATOR_LOSSES["cross_entropy"] is losses.d_loss  # put back afterwards
    through_v = lambda real, fake: -losses.value_function(real, fake)
    assert verdict(capsys, through_v, losses.d_loss, random_logits)[0]  # not withheld: passes
    passed, said = verdict(capsys, through_v, losses.d_loss, random_logits, withhold=[losses.value_function])
    assert not passed and "losses.value_function" in said
    assert losses.d_loss.__name__ == "d_loss" and imported.__globals__["d_loss"] is losses.d_loss
    assert float(losses.d_loss(jnp.zeros(2), jnp.zeros(2))) == pytest.approx(2 * np.log(2))


def test_smoke_mode_follows_ci_and_the_quick_setting(monkeypatch):
    monkeypatch.delenv("GAN_LESSONS_QUICK", raising=False)
    monkeypatch.setenv("CI", "true")
    assert smoke_mode()
    monkeypatch.setenv("CI", "false")
    assert not smoke_mode()
    monkeypatch.delenv("CI")
    assert not smoke_mode()
    monkeypatch.setenv("GAN_LESSONS_QUICK", "1")
    assert smoke_mode()
    monkeypatch.setenv("GAN_LESSONS_QUICK", "0")
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


def test_show_source_displays_the_library_s_own_code():
    import inspect

    from gan_lessons import cpu_kernels, models
    from gan_lessons.notebook import show_source

    stock = cpu_kernels.conv_transpose_reference
    text = show_source(models.DCGANGenerator, stock).data
    assert text == inspect.getsource(models.DCGANGenerator) + "\n\n" + inspect.getsource(stock)
    assert "class DCGANGenerator(nnx.Module):" in text and "lax.conv_transpose(" in text
    method = show_source(models.DCGANGenerator.__call__).data  # a method, dedented to read as code
    assert method.startswith("def __call__(self, z):")


def test_mean_sd_prints_the_sample_sd_and_refuses_a_single_seed():
    assert mean_sd([0.969, 0.980, 0.966]) == "0.972 ± 0.007"  # three seeds, rounded to three places
    assert mean_sd(np.array([1.0, 3.0]), digits=1) == "2.0 ± 1.4"  # √2: n − 1 in the denominator, not n (1.0)
    with pytest.raises(ValueError, match="at least 2"):
        mean_sd([0.9])


class ResultsHandler(BaseHTTPRequestHandler):
    pages = {"/results/ladder.json": json.dumps({"runs": ["fetched"]}).encode(),
             "/results/portal.json": b"<html>sign in to this network first</html>"}  # a captive portal's page

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path not in self.pages:
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.pages[self.path])))
        self.end_headers()
        self.wfile.write(self.pages[self.path])

    def log_message(self, *args):
        pass


def test_recorded_results_are_read_beside_the_notebook_else_fetched_else_explained(tmp_path, monkeypatch):
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):  # 127.0.0.1 itself, not via a proxy
        monkeypatch.delenv(variable, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), ResultsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}/results/"
    try:
        monkeypatch.chdir(tmp_path)  # a notebook's folder without results/: Colab
        assert recorded_results("ladder.json", address) == {"runs": ["fetched"]}
        with pytest.raises(FileNotFoundError, match="other.json is not beside this notebook.*answered 404"):
            recorded_results("other.json", address)
        with pytest.raises(FileNotFoundError, match="portal.json could not be read.*JSONDecodeError"):
            recorded_results("portal.json", address)
        (tmp_path / "results").mkdir()
        (tmp_path / "results" / "ladder.json").write_text(json.dumps({"runs": ["beside, β"]}, ensure_ascii=False),
                                                    encoding="utf-8")
        assert recorded_results("ladder.json", address) == {"runs": ["beside, β"]}  # a clone's copy comes first
    finally:
        server.shutdown()
    with socket.socket() as probe:  # a port nobody listens on once the probe closes: offline
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/results/"
    with pytest.raises(FileNotFoundError, match="connect to the internet"):
        recorded_results("other.json", refused)
