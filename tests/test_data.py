"""The study's data from a dataset's arrays: split, subsets, binarization, the sizes check and
the manifest of prepare_data (reading and verifying the files: test_datasets.py)."""

import json
import re

import numpy as np
import pytest

from vaestudy.core import data, datasets
from vaestudy.core.data import DataError


def test_split_is_seeded_disjoint_and_stratified():
    labels = np.repeat(np.arange(10), 100)
    train, val = data.split_train_val(1000, 100, seed=3, labels=labels)
    again, _ = data.split_train_val(1000, 100, seed=3, labels=labels)
    other, _ = data.split_train_val(1000, 100, seed=4, labels=labels)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    assert len(set(train) | set(val)) == 1000 and not set(train) & set(val)
    assert np.all(np.bincount(labels[val], minlength=10) == 10)


def test_binarization_schemes():
    x = np.full((2, 28, 28, 1), 0.3, dtype=np.float32)
    assert np.all(data.binarize(x, "static") == 0)
    assert data.binarize(x, "none") is x
    draws = data.binarize(np.full((200, 28, 28, 1), 0.3, np.float32), "dynamic",
                          np.random.default_rng(0))
    assert set(np.unique(draws)) == {0.0, 1.0} and abs(draws.mean() - 0.3) < 0.01
    with pytest.raises(ValueError, match="unknown binarization"):
        data.binarize(x, "otsu")


def test_load_split_sizes_and_fixed_eval_binarization(mnist_copy):
    kw = dict(validation_size=500, split_seed=0, binarization="dynamic",
              eval_binarization_seed=7, train_subset=300, test_subset=200)
    a = data.load_split(mnist_copy, **kw)
    b = data.load_split(mnist_copy, **kw)
    assert a.x_train.shape == (300, 28, 28, 1) and a.x_val.shape == (500, 28, 28, 1)
    assert a.x_test.shape == (200, 28, 28, 1) and set(np.unique(a.x_test)) == {0.0, 1.0}
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.x_val, b.x_val)


def test_gray_levels_become_floats_i_over_255():
    images = np.array([[[0, 1], [128, 255]]], dtype=np.uint8)  # [1, 2, 2]
    out = data._to_float(images)
    assert out.dtype == np.float32 and out.shape == (1, 2, 2, 1)
    assert np.array_equal(out[..., 0], np.float32([[[0, 1], [128, 255]]]) / np.float32(255))


def test_subsets_are_seeded_stratified_draws_over_the_whole_split(mnist_copy):
    """The official test set is ordered (its first 5,000 digits are the cleaner NIST SD-3
    writers): a test subset is a seeded draw over all 10,000, each digit keeping its share,
    and records how it was drawn."""
    full = datasets.load(datasets.MNIST, mnist_copy)
    split = data.load_split(mnist_copy, 5000, 3, "none", 7, train_subset=1000, test_subset=500)
    labels = full["test_labels"]
    keep = data.stratified_draw(labels, 500, 3)
    assert np.array_equal(split.x_test[..., 0], full["test_images"][keep] / np.float32(255))
    assert np.array_equal(split.y_test, labels[keep])
    assert (keep >= 5000).mean() == pytest.approx(0.5, abs=0.06)  # both halves, not the first
    shares = np.bincount(labels, minlength=10) / len(labels)
    np.testing.assert_allclose(np.bincount(split.y_test, minlength=10) / 500, shares, atol=0.003)
    assert split.test_images == {"n": 500, "of": 10000, "population": "official test images",
                                 "drawn": True, "seed": 3, "stratified_by": "label"}
    assert data.describe_subset(split.test_images) == (
        "500 of the 10,000 official test images (seeded draw, seed 3, stratified by label)")
    assert (data.stratified_draw(labels, 500, 4) != keep).any()  # the seed matters
    train = data.load_split(mnist_copy, 5000, 3, "none", 7)
    drawn_train = split.y_train
    assert len(drawn_train) == 1000 and not np.array_equal(drawn_train, train.y_train[:1000])
    whole = data.load_split(mnist_copy, 5000, 3, "none", 7)
    assert data.describe_subset(whole.test_images) == "all 10,000 official test images"
    assert len(whole.y_test) == 10000


def test_stratified_draw_refuses_impossible_sizes():
    labels = np.arange(10) % 2
    assert len(data.stratified_draw(labels, 10, 0)) == 10
    for n in (0, 11):
        with pytest.raises(DataError, match=f"cannot draw {n} of 10"):
            data.stratified_draw(labels, n, 0)


def test_balanced_draw_shares_the_classes_out_as_equally_as_the_items_allow():
    """A class with too few items gives all it has and the others share its turns; no two
    consecutive items are of one class while two classes are left; seeded."""
    labels = np.repeat([0, 1, 2], [1, 5, 30])
    for seed in range(6):
        pick = data.balanced_draw(labels, 9, seed)
        assert len(set(pick.tolist())) == 9
        assert np.bincount(labels[pick], minlength=3).tolist() == [1, 4, 4]
        assert (labels[pick][1:] != labels[pick][:-1]).all()
        assert np.array_equal(pick, data.balanced_draw(labels, 9, seed))
    assert np.bincount(labels[data.balanced_draw(labels, 36, 0)]).tolist() == [1, 5, 30]
    assert len({tuple(data.balanced_draw(labels, 9, seed)) for seed in range(6)}) > 1
    for n in (0, 37):
        with pytest.raises(DataError, match=f"cannot draw {n} of 36"):
            data.balanced_draw(labels, n, 0)


@pytest.mark.parametrize("sizes, message", [
    ((5000, 55000, 10000, 55000), None),  # everything fits exactly
    ((5000, 55001, 0, 128), "'data.train_subset' = 55001 is larger than the 55000 images"),
    ((5000, 0, 10001, 128), "'data.test_subset' = 10001 is larger than the 10000 images"),
    ((5000, 1024, 0, 1025), "'training.batch_size' = 1025 is larger than the 1024 training"),
    ((59000, 0, 0, 1001), "'training.batch_size' = 1001 is larger than the 1000 training"),
])
def test_subsets_and_batch_must_fit_the_split(sizes, message):
    """One check of the sizes (data.check_sizes), run by the workflow before any job and by
    load_split."""
    if message is None:
        data.check_sizes(*sizes)
    else:
        with pytest.raises(data.DataError, match=re.escape(message)):
            data.check_sizes(*sizes)


def test_load_split_reads_the_named_dataset(fashion_copy):
    """``dataset`` reaches the registry: Fashion-MNIST's files load as Fashion-MNIST (as
    MNIST their sums are wrong) and keep their labels."""
    split = data.load_split(fashion_copy, 5000, 0, "none", 7, test_subset=100,
                            dataset="fashion-mnist")
    assert len(split.y_test) == 100 and split.x_train.shape == (55000, 28, 28, 1)
    assert split.x_test.mean() == pytest.approx(0.286, abs=0.03)  # garments: more ink
    with pytest.raises(DataError, match="not the official MNIST file"):
        data.load_split(fashion_copy, 5000, 0, "none", 7)


def test_the_manifest_names_the_verified_folder(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"dataset": "fashion-mnist", "dir": "/data/f", "files": {}}))
    assert data.prepared_dir(manifest) == "/data/f"


class FixedDraws:
    """A stand-in for numpy's Generator whose every uniform draw is ``value``: the edges
    of the draws, which a real generator reaches with probability 2^-24 per pixel."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self, shape: tuple, dtype=np.float64) -> np.ndarray:
        """An array of ``shape`` holding ``value``."""
        return np.full(shape, self.value, dtype)


LEVELS = (np.arange(256, dtype=np.float32) / 255).reshape(1, 16, 16, 1)  # every 8-bit level


def test_binarization_at_the_edges_of_the_draws():
    """dynamic: a pixel is white with probability equal to its gray level, so black stays
    black even for a draw of exactly 0 and white stays white; static: the threshold 0.5;
    dequantized: level i becomes (i + u) / 256, in its own bin."""
    zero, top = FixedDraws(0.0), FixedDraws(np.nextafter(np.float32(1), np.float32(0)))
    assert data.binarize(LEVELS, "dynamic", zero).ravel().tolist() == [0.0] + [1.0] * 255
    assert data.binarize(LEVELS, "dynamic", top).ravel().tolist() == [0.0] * 255 + [1.0]
    assert data.binarize(LEVELS, "static").ravel().tolist() == [0.0] * 128 + [1.0] * 128
    low = data.binarize(LEVELS, "dequantized", zero)
    assert low.dtype == np.float32
    np.testing.assert_array_equal(low.ravel(), np.arange(256) / 256)
    real = data.binarize(LEVELS, "dequantized", np.random.default_rng(0)).ravel()
    np.testing.assert_array_equal(np.floor(real * 256), np.arange(256))
    for scheme in ("dequantized", "dynamic"):
        with pytest.raises(ValueError, match="needs a numpy random Generator"):
            data.binarize(LEVELS, scheme)


def test_draws_of_one_item_and_of_every_item():
    labels = np.array([2, 0, 1, 2, 0, 1, 2])
    for draw in (data.stratified_draw, data.balanced_draw):
        assert len(draw(labels, 1, 0)) == 1
        assert sorted(draw(labels, 7, 0).tolist()) == list(range(7))


def test_the_validation_part_leaves_a_training_part():
    labels = np.arange(1000) % 10
    for size in (1, 999):
        train, val = data.split_train_val(1000, size, 0, labels)
        assert (len(train), len(val)) == (1000 - size, size)
    for size in (0, 1000):
        with pytest.raises(DataError, match=f"validation_size={size} must be between 1 and 999"):
            data.split_train_val(1000, size, 0, labels)


@pytest.mark.parametrize("subsets, message", [
    ({"train_subset": 55001}, "'data.train_subset' = 55001 is larger than the 55000 images"),
    ({"test_subset": 10001}, "'data.test_subset' = 10001 is larger than the 10000 images")])
def test_load_split_checks_the_subsets_first(mnist_copy, subsets, message):
    with pytest.raises(DataError, match=re.escape(message)):
        data.load_split(mnist_copy, 5000, 0, "none", 7, **subsets)
