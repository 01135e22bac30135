"""The evaluation classifier: its pieces on closed-form cases, and the shipped checkpoints on real data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_lessons import classifier, data, pretrained, running
from gan_lessons.data import epoch_batches


def test_cross_entropy_of_uniform_logits_is_log_classes():
    logits = jnp.zeros((4, 10))
    assert float(classifier.cross_entropy(logits, jnp.arange(4))) == pytest.approx(np.log(10), rel=1e-6)


def test_histogram_and_confidence_on_known_probabilities():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(classifier.class_histogram(probabilities), [0.5, 0.25, 0.25])
    assert classifier.mean_confidence(probabilities) == pytest.approx((0.9 + 0.7 + 0.6 + 0.8) / 4)


def test_random_shift_moves_a_dot_by_at_most_two_pixels():
    images = -np.ones((64, 28, 28, 1), np.float32)
    images[:, 14, 14, 0] = 1.0
    shifted = np.asarray(classifier.random_shift(jax.random.key(0), jnp.asarray(images)))
    rows, columns = np.nonzero(shifted[..., 0] == 1.0)[1:]
    assert len(rows) == 64  # the dot survives in every image, and the background stays -1
    assert np.all(np.abs(rows - 14) <= 2) and np.all(np.abs(columns - 14) <= 2)
    assert len(set(zip(rows, columns))) > 5  # the shifts differ between images
    assert np.all((shifted == -1.0) | (shifted == 1.0))


def test_a_training_step_lowers_the_loss_on_its_batch():
    state = classifier.make_classifier(jax.random.key(0))
    images = jax.random.uniform(jax.random.key(1), (16, 28, 28, 1), minval=-1, maxval=1)
    labels = jnp.arange(16) % 10
    first = None
    for _ in range(5):
        state, loss = classifier.classifier_step(state, images, labels)
        first = loss if first is None else first
    assert float(loss) < float(first)


def noise_digits(count: int):
    images = jax.random.uniform(jax.random.key(1), (count, 28, 28, 1), minval=-1, maxval=1)
    return np.asarray(images), np.arange(count) % 10


def test_train_classifier_is_the_plain_loop_of_steps_when_healthy():
    images, labels = noise_digits(96)
    state = classifier.make_classifier(jax.random.key(0))
    trained, losses = classifier.train_classifier(state, images, labels, jax.random.key(5), epochs=2, batch_size=32,
                                                  progress=False)
    by_hand, by_hand_losses = state, []
    for epoch_key in jax.random.split(jax.random.key(5), 2):  # the same keys and batches, without the guard
        order_key, shift_key = jax.random.split(epoch_key)
        image_batches, label_batches = epoch_batches(order_key, (images, labels), 32)
        for batch, batch_labels, key in zip(image_batches, label_batches, jax.random.split(shift_key, 3)):
            by_hand, loss = classifier.classifier_step(by_hand, batch, batch_labels, key)
            by_hand_losses.append(float(loss))
    np.testing.assert_allclose(losses, by_hand_losses, rtol=1e-6)
    for ours, theirs in zip(jax.tree.leaves(trained.params), jax.tree.leaves(by_hand.params)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_diverging_classifier_stops_and_keeps_its_last_good_state():
    images, labels = noise_digits(64)
    state = classifier.make_classifier(jax.random.key(0), learning_rate=1e30)
    with pytest.raises(running.TrainingDiverged, match=r"classifier, epoch 1/1 diverged at step \d+: the classifier") \
            as stopped:
        classifier.train_classifier(state, images, labels, jax.random.key(5), epochs=1, batch_size=16, progress=False)
    last_good = stopped.value.last_good_states["classifier"]
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(last_good.params))


@pytest.mark.parametrize("dataset, load, bound", [
    ("mnist", data.load_mnist, 0.99), ("fashion_mnist", data.load_fashion_mnist, 0.90),
])
def test_shipped_classifier_reaches_its_accuracy(dataset, load, bound, data_dir):
    state, config = pretrained.load_classifier(dataset)
    images, labels = load("test", data_dir)
    measured = classifier.accuracy(state, images, labels)
    assert measured >= bound
    assert measured == pytest.approx(config["test_accuracy"], abs=2e-3)  # the stored number is the real one
    features = classifier.classifier_features(state, images[:10])
    assert features.shape == (10, 128)


def test_judge_gives_the_histogram_and_confidence_of_its_predictions():
    state = classifier.make_classifier(jax.random.key(2))
    images = jax.random.uniform(jax.random.key(3), (50, 28, 28, 1), minval=-1, maxval=1)
    shares, confidence = classifier.judge(state, images)
    probabilities = classifier.predict_probabilities(state, images)
    np.testing.assert_array_equal(shares, classifier.class_histogram(probabilities))
    assert confidence == classifier.mean_confidence(probabilities)


def test_classification_accuracy_score_on_real_and_on_scrambled_labels():
    """CAS with real images as the "generated" set is high; with labels that do not match the images it is chance."""
    from gan_lessons import metrics

    images, labels = data.load_mnist("train")
    test_images, test_labels = data.load_mnist("test")
    images, labels = images[:3000], labels[:3000]
    real_key, scrambled_key = jax.random.split(jax.random.key(0))
    real = metrics.classification_accuracy_score(images, labels, test_images[:2000], test_labels[:2000], real_key,
                                                 epochs=3)
    scrambled_labels = np.asarray(jax.random.permutation(jax.random.key(1), labels))
    scrambled = metrics.classification_accuracy_score(images, scrambled_labels, test_images[:2000], test_labels[:2000],
                                                      scrambled_key, epochs=3)
    assert real > 0.9 and scrambled < 0.25, (real, scrambled)


def test_a_generator_that_outputs_one_image_gets_a_one_class_histogram():
    """The collapsed generator of chapter 05: one image, repeated. Its histogram is one class (KL = log 10),
    its score 1, and its recall against real digits near 0; real test digits spread over all ten."""
    from gan_lessons import metrics

    judge, _ = pretrained.load_classifier("mnist")
    test_images, _ = data.load_mnist("test")
    collapsed = np.repeat(test_images[:1], 500, axis=0)
    probabilities = classifier.predict_probabilities(judge, collapsed)
    shares = classifier.class_histogram(probabilities)
    assert np.count_nonzero(shares) == 1
    assert metrics.histogram_divergence(shares) == pytest.approx(np.log(10))
    assert metrics.classifier_score(probabilities) == pytest.approx(1.0, abs=1e-3)
    real = classifier.classifier_features(judge, test_images[1:501])
    assert metrics.precision_recall(real, classifier.classifier_features(judge, collapsed)).recall <= 1 / 500
    assert np.all(classifier.class_histogram(classifier.predict_probabilities(judge, test_images[:500])) > 0.05)
