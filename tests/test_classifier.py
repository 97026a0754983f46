"""The digit classifier of the sample metrics learns digits and is reproducible per seed."""

import numpy as np
import pytest

from vaestudy import runtime
from vaestudy.data import load_split

runtime.configure(threads=1)

from vaestudy.classifier import features_and_predictions, train_classifier  # noqa: E402


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
