"""The digit classifier of the sample metrics: its network, its training loop (the loss and
accuracy it reports, the learning-rate schedule), its Fréchet distance and class histogram by
hand; it learns digits and is reproducible per seed."""

import math

import keras
import numpy as np
import pytest
from scipy import linalg

from vaestudy.core.data import load_split
from vaestudy.jobs import runtime

runtime.configure(threads=1)

from vaestudy.evaluation.classifier import (  # noqa: E402
    class_histogram,
    features_and_predictions,
    frechet_distance,
    make_classifier,
    train_classifier,
)


def test_the_classifier_is_the_documented_network():
    """Two blocks of two 3x3 convolutions (32, then 64 filters) and 2x2 max-pooling, dropout
    0.3 around Dense(128, 'features'), then 10 logits: the features every Fréchet distance
    of the study is computed on."""
    net = make_classifier(0)
    layers = [(type(layer).__name__, tuple(layer.output.shape[1:]),
               getattr(layer, "kernel_size", None), getattr(layer, "rate", None))
              for layer in net.layers]
    conv = "Conv2D"
    assert layers == [(conv, (28, 28, 32), (3, 3), None), (conv, (28, 28, 32), (3, 3), None),
                      ("MaxPooling2D", (14, 14, 32), None, None),
                      (conv, (14, 14, 64), (3, 3), None), (conv, (14, 14, 64), (3, 3), None),
                      ("MaxPooling2D", (7, 7, 64), None, None), ("Flatten", (3136,), None, None),
                      ("Dropout", (3136,), None, 0.3), ("Dense", (128,), None, None),
                      ("Dropout", (128,), None, 0.3), ("Dense", (10,), None, None)]
    assert net.count_params() == (9 * 32 + 32) + (9 * 32 * 32 + 32) + (9 * 32 * 64 + 64) \
        + (9 * 64 * 64 + 64) + (3136 * 128 + 128) + (128 * 10 + 10)


def test_an_epochs_loss_and_accuracy_are_those_of_its_steps():
    """One epoch of one batch: the loss and accuracy reported are those of the starting
    network on the shuffled images in training mode (seeded dropout), before the step."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    _, history = train_classifier(x, y, x[:8], y[:8], epochs=1, seed=0)
    order = np.random.default_rng(0).permutation(40)  # the epoch's seeded shuffle
    logits = make_classifier(0)(x[order], training=True).numpy()
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert history["loss"][0] == pytest.approx(-log_p[np.arange(40), y[order]].mean(),
                                               rel=1e-5)
    assert history["accuracy"][0] == np.mean(logits.argmax(axis=1) == y[order])


def test_the_learning_rate_falls_by_0_6_each_epoch_of_128_image_batches(monkeypatch):
    """129 images are two steps of a batch of 128 and one; after three epochs of them the
    learning rate is 1e-3 x 0.6^3."""
    made = []

    def adam(*args, **kwargs) -> keras.optimizers.Adam:
        """Keras' Adam, kept in ``made``."""
        made.append(real(*args, **kwargs))
        return made[-1]

    real = keras.optimizers.Adam
    monkeypatch.setattr(keras.optimizers, "Adam", adam)
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(129, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 129)
    train_classifier(x, y, x[:4], y[:4], epochs=3, seed=0)
    (optimizer,) = made
    assert int(optimizer.iterations) == 3 * 2
    assert float(optimizer.learning_rate) == pytest.approx(1e-3 * 0.6**3, rel=1e-6)


def test_frechet_distance_by_hand():
    """Diagonal covariances: |mu1 - mu2|^2 + sum (s1^(1/2) - s2^(1/2))^2; and against
    scipy's matrix square root for covariances that do not commute."""
    h = linalg.hadamard(8)[:, 1:4].astype(float)  # orthogonal zero-mean columns of +-1
    f1 = np.array([1.0, 2.0, 0.0]) + h * [0.5, 0.1, 2.0]
    f2 = np.array([0.0, -1.0, 3.0]) + h * [1.0, 0.3, 0.05]
    sd1, sd2 = np.array([0.5, 0.1, 2.0]), np.array([1.0, 0.3, 0.05])
    expected = 19.0 + (8 / 7) * ((sd1 - sd2) ** 2).sum()  # np.cov divides by n - 1
    assert frechet_distance(f1, f2) == pytest.approx(expected, rel=1e-12)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 4)) * [0.2, 0.05, 1.0, 0.4] + 1.0
    b = rng.normal(size=(60, 4)) @ rng.normal(size=(4, 4)) * 0.3 - 0.5
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    by_scipy = (((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2)
                - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real)
    assert frechet_distance(a, b) == pytest.approx(by_scipy, rel=1e-9)


def test_class_histogram_by_hand():
    preds = np.array([0] * 33 + [1] * 66 + [2])  # class 2: 1 %, exactly the threshold
    h = class_histogram(preds)
    assert h["class_shares"] == [0.33, 0.66, 0.01] + [0.0] * 7
    assert h["classes_covered"] == 3
    assert h["class_entropy"] == pytest.approx(-sum(p * math.log(p) for p in (0.33, 0.66, 0.01)))
    thirds = class_histogram(np.array([4, 7, 7]))
    assert thirds["class_shares"][4] == 0.3333 and thirds["class_shares"][7] == 0.6667
    assert class_histogram(np.zeros(5, int))["class_entropy"] == 0.0


@pytest.fixture(scope="module")
def digits(root):
    """2,048 grayscale training images, 512 validation images."""
    return load_split(root / "resources" / "mnist", 512, 0, "none", 0, 2048, 64)


def test_classifier_learns_digits(digits):
    model, history = train_classifier(digits.x_train, digits.y_train, digits.x_val_gray,
                                      digits.y_val, epochs=2, seed=0)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.values())
    assert history["loss"][1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.8  # chance is 0.1
    features, preds = features_and_predictions(model, digits.x_val_gray)
    assert features.shape == (512, 128) and preds.shape == (512,)
    assert np.mean(preds == digits.y_val) == pytest.approx(history["val_accuracy"][-1])


def test_classifier_is_reproducible_per_seed(digits):
    def fit(seed):
        return train_classifier(digits.x_train[:512], digits.y_train[:512], digits.x_val_gray,
                                digits.y_val, epochs=1, seed=seed)

    (m0, h0), (m1, h1), (_, h2) = fit(0), fit(0), fit(1)
    assert h0 == h1
    assert all(np.array_equal(a, b) for a, b in zip(m0.get_weights(), m1.get_weights()))
    assert h2 != h0
