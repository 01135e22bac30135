"""A chapter's asserts can fail: break a claim on purpose and the chapter must stop at that claim.

Each case runs a real chapter in a real kernel, in the smoke setting CI uses, up to the cell that asserts a
claim; just before that claim (or before the cell that produces what it judges) it runs one fault: a flipped
sign, shuffled labels, an untrained model. The claim's cell must then raise ``AssertionError``. A chapter
whose assert is vacuous (``SMOKE or ...``, a bound any model meets) would run through and fail this test.
Cells after the claim are not run, so each case costs only the chapter's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

# the course's own files (chapters' text, install files, site), not the library: CI's newest-versions lane
# and the GPU checks leave these out with -m "not course_files"
pytestmark = pytest.mark.course_files

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Fault:
    chapter: str  # notebook file name
    inject_before: str  # the fault runs just before the first code cell whose source contains this
    fault: str  # code run in the chapter's kernel
    claim: str  # the first code cell containing this must raise AssertionError
    what: str


FAULTS = [
    Fault("01_minimax_game.ipynb", "STEPS = 4000",
          "_honest = losses.GENERATOR_LOSSES['non_saturating']\n"
          "losses.GENERATOR_LOSSES['non_saturating'] = lambda fake_logits: -_honest(fake_logits)",
          'assert final["jsd"] <= bound', "a flipped sign in G's loss: the 1-D GAN must not converge"),
    Fault("04_dcgan_mnist.ipynb", 'shipped_g, shipped_d, shipped_config = pretrained.load_dcgan("cpu", "mnist")',
          "_untrained = [training.TrainState.create(model, training.dcgan_optimizer())\n"
          "              for model in make_dcgan('cpu', jax.random.key(7))]\n"
          "pretrained.load_dcgan = lambda *args: (*_untrained, {'command': 'untrained'})",
          "assert balanced and shipped_confidence", "an untrained generator in place of the shipped one"),
    Fault("07_conditioning_and_latent_space.ipynb", "SCRATCH_STEPS = 150 if SMOKE else 600",
          "train_labels = np.asarray(jax.random.permutation(jax.random.key(123), train_labels))",
          "assert scratch_accuracy >", "shuffled training labels: G(z, y) must not learn to draw the digit y"),
    Fault("08_feature_learning.ipynb", "chosen_settings = {name: max(",
          'sources["DCGAN D (cpu)"], sources["DCGAN D (paper)"] = random_state, random_paper',
          "assert careful[best_gan].mean > best_baseline", "the GAN's discriminators swapped for random ones: no gain"),
    Fault("09_clustering_with_gans.ipynb", 'infogan_players, infogan_config = pretrained.load_code_gan("infogan"',
          "test_labels = np.asarray(jax.random.permutation(jax.random.key(123), test_labels))",
          'assert results["InfoGAN: Q(c | x)"]', "shuffled test labels: InfoGAN's code must not look like digits"),
    Fault("10_gans_among_generative_models.ipynb", 'shipped_vae, vae_config = pretrained.load_vae("mnist")',
          "pretrained.load_vae = lambda *args: (vae.make_vae(jax.random.key(7)), {'command': 'untrained'})",
          "test_elbo = vae.evaluate_elbo(shipped_vae", "an untrained VAE in place of the shipped one"),
    Fault("10_gans_among_generative_models.ipynb", 'shipped_vae, vae_config = pretrained.load_vae("mnist")',
          "vae._log_normal = lambda value, mean, log_variance: jnp.zeros(value.shape[:-1])",
          "assert abs(single.mean() - subset_elbo)",
          "importance weights without p(z) / q(z | x): still above the ELBO (Jensen), but not the ELBO at K = 1"),
]


def _first(cells, text: str) -> int:
    matches = [index for index, cell in enumerate(cells) if cell.cell_type == "code" and text in cell.source]
    assert matches, f"no code cell contains {text!r}: the chapter changed, update this fault"
    return matches[0]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.chapter[:2])
def test_a_broken_claim_stops_the_chapter(fault, monkeypatch):
    monkeypatch.setenv("CI", "1")  # the smoke setting, whose bounds are the weaker ones
    notebook = nbformat.read(ROOT / "notebooks" / fault.chapter, as_version=4)
    inject, claim = _first(notebook.cells, fault.inject_before), _first(notebook.cells, fault.claim)
    assert inject <= claim
    cells = notebook.cells[:inject] + [nbformat.v4.new_code_cell(fault.fault)] + notebook.cells[inject:claim + 1]
    notebook.cells = [cell for cell in cells if cell.cell_type == "code"]
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells[:-1]):
            client.execute_cell(cell, index)  # the chapter up to the claim, and the fault, must run
        with pytest.raises(nbclient.exceptions.CellExecutionError) as raised:
            client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
    assert raised.value.ename == "AssertionError", f"{fault.what}: the claim failed with {raised.value.ename}"
