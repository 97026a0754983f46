"""The study's data made from a dataset's verified arrays (:mod:`vaestudy.core.datasets`): the
seeded train/validation split, the seeded stratified subsets and the binarization schemes.

Why here and not in :mod:`vaestudy.core.datasets`: what a dataset is (its files, sums, sources)
does not change with the study's settings; how the study splits and binarizes it does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaestudy.core import datasets
from vaestudy.core.datasets import IMAGE_SHAPE, SPLIT_SIZES, DataError  # noqa: F401 - re-exported


@dataclass(frozen=True)
class Split:
    """Images as float32 in [0, 1] with shape [N, 28, 28, 1]; labels as uint8 [N].
    ``x_train`` and the ``*_gray`` arrays are grayscale; ``x_val`` and ``x_test`` are in the
    run's representation (binarized or dequantized once with a fixed seed)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val_gray: np.ndarray
    x_test_gray: np.ndarray
    #: how the test images were chosen (:func:`subset_record`): all, or a seeded draw
    test_images: dict | None = None
    #: the official test-set index of each test image [N] (so a picture can name its images)
    test_index: np.ndarray | None = None


def stratified_draw(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded draw of ``n`` of the ``len(labels)`` items, each label
    keeping its share (every k-th item of a random permutation sorted by label). Why: the
    official test set is ordered (MNIST's first 5,000 digits are the cleaner NIST SD-3 writers),
    so "the first N" is not a sample of it; every subset of the study is such a draw."""
    total = len(labels)
    if not 0 < n <= total:
        raise DataError(f"cannot draw {n} of {total} items: use 1 to {total}.")
    order = np.random.default_rng(seed).permutation(total)
    by_label = order[np.argsort(labels[order], kind="stable")]
    picks = np.linspace(0, total, n, endpoint=False).astype(int)
    return np.sort(by_label[picks])


def balanced_draw(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a seeded draw of ``n`` of the ``len(labels)`` items whose classes are as
    equal in number as the items allow, in the order drawn: rounds of one item of each class
    (members in a seeded order), the classes in the same seeded order every round. Of C
    classes each then has floor(n/C) or one more (the first n mod C of that order get one
    more) while every class holds enough items; a class that runs out drops out of the
    rounds. Consecutive items are of different classes until a single class is left.

    Why not :func:`stratified_draw`: it keeps each class's share, picking fixed positions of
    a label-sorted list, so that 10 of MNIST's test digits hold two 1s and two 7s and no 6
    or 8 for every seed; the pictures need each class, not each share."""
    total = len(labels)
    if not 0 < n <= total:
        raise DataError(f"cannot draw {n} of {total} items: use 1 to {total}.")
    rng = np.random.default_rng(seed)
    classes, of_class = np.unique(labels, return_inverse=True)
    turn = rng.permutation(len(classes))[of_class]  # each item's class's turn in a round
    members = rng.permutation(total)
    members = members[np.argsort(turn[members], kind="stable")]  # by class, shuffled within
    sizes = np.bincount(turn, minlength=len(classes))
    rounds = np.empty(total, int)
    rounds[members] = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.lexsort((turn, rounds))[:n]


def subset_record(n: int, of: int, seed: int, population: str) -> dict:
    """How a subset was drawn, as recorded beside every number measured on it (n = of: the
    whole population, no draw)."""
    whole = n >= of
    return {"n": int(min(n, of)), "of": int(of), "population": population,
            "drawn": not whole, "seed": None if whole else int(seed),
            "stratified_by": None if whole else "label"}


def describe_subset(record: dict) -> str:
    """A subset record in words: "all 10,000 official test images" or "500 of the 10,000
    official test images (seeded draw, seed 0, stratified by label)"."""
    if not record["drawn"]:
        return f"all {record['of']:,} {record['population']}"
    return (f"{record['n']:,} of the {record['of']:,} {record['population']} (seeded draw, "
            f"seed {record['seed']}, stratified by {record['stratified_by']})")


def split_train_val(
    n: int, validation_size: int, seed: int, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of ``range(n)``: each label keeps its share in validation."""
    if not 0 < validation_size < n:
        raise DataError(f"validation_size={validation_size} must be between 1 and {n - 1}.")
    val = stratified_draw(labels[:n], validation_size, seed)
    return np.setdiff1d(np.arange(n), val), val


def binarize(x: np.ndarray, scheme: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Make a run's images from grayscale images x = i / 255 in [0, 1] (i the 8-bit pixel).

    ``static``: threshold at 0.5 (TensorFlow CVAE tutorial). ``dynamic``: one Bernoulli draw
    per pixel with the gray level as probability (the log-likelihood literature's convention;
    a fresh draw each epoch for training). ``dequantized``: (i + u) / 256 with u ~ U[0, 1)
    per pixel, the continuous data of the grayscale densities (a fresh draw each epoch for
    training, like ``dynamic``). ``none``: grayscale unchanged.
    """
    if scheme == "none":
        return x
    if scheme == "dequantized":
        if rng is None:
            raise ValueError("dequantization needs a numpy random Generator")
        i = np.round(x * 255.0)
        return ((i + rng.random(x.shape, dtype=np.float32)) / 256.0).astype(np.float32)
    if scheme == "static":
        return (x > 0.5).astype(np.float32)
    if scheme == "dynamic":
        if rng is None:
            raise ValueError("dynamic binarization needs a numpy random Generator")
        return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
    raise ValueError(f"unknown binarization {scheme!r}; allowed: static, dynamic, "
                     f"dequantized, none")


def _to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, 28, 28] -> float32 [N, 28, 28, 1] in [0, 1], divided in place: one
    array allocated, not two (the training set is 172 MB in float32)."""
    out = images.astype(np.float32)
    out /= 255.0
    return out[..., None]


def check_sizes(validation_size: int, train_subset: int, test_subset: int,
                batch_size: int | None = None) -> None:
    """The subsets (0 = all) and the batch must fit the dataset's parts (:data:`SPLIT_SIZES`,
    the training part less ``validation_size``); a :class:`DataError` names the key. Checked
    by the workflow before any job and by :func:`load_split`."""
    n_split = SPLIT_SIZES["train"] - validation_size
    for key, subset, size in (("train_subset", train_subset, n_split),
                              ("test_subset", test_subset, SPLIT_SIZES["test"])):
        if subset > size:
            raise DataError(f"config 'data.{key}' = {subset} is larger than the {size} images "
                            f"of that split; use at most {size} (0 = all of them).")
    n_train = train_subset or n_split
    if batch_size is not None and batch_size > n_train:
        raise DataError(
            f"config 'training.batch_size' = {batch_size} is larger than the {n_train} "
            f"training images (data.train_subset / data.validation_size); use at most "
            f"{n_train}.")


def load_split(
    directory: Path | str,
    validation_size: int,
    split_seed: int,
    binarization: str,
    eval_binarization_seed: int,
    train_subset: int | None = None,
    test_subset: int | None = None,
    *,
    dataset: str = "mnist",
) -> Split:
    """The study's data: a seeded train/validation split of the official training set and the
    official test set. Validation and test are binarized once (fixed seed) so that every run
    is evaluated on the same pixels; the training images stay grayscale so that a training
    loop can draw a fresh dynamic binarization each epoch (see :func:`binarize`).

    ``train_subset``/``test_subset`` keep a seeded draw of N items of the split (stratified
    by label, seed ``split_seed``: :func:`stratified_draw`), recorded in ``test_images``.
    ``dataset`` names the registry's dataset (:func:`vaestudy.core.datasets.get`) in ``directory``.
    """
    arrays = datasets.load(datasets.get(dataset), directory)
    labels = arrays["train_labels"]
    train_idx, val_idx = split_train_val(len(labels), validation_size, split_seed, labels)
    x_test, y_test = arrays["test_images"], arrays["test_labels"]
    check_sizes(validation_size, train_subset or 0, test_subset or 0)
    if train_subset:
        train_idx = train_idx[stratified_draw(labels[train_idx], train_subset, split_seed)]
    test_images = subset_record(test_subset or len(y_test), len(y_test), split_seed,
                                "official test images")
    keep = stratified_draw(y_test, test_subset, split_seed) if test_subset else \
        np.arange(len(y_test))
    x_test, y_test = x_test[keep], y_test[keep]
    rng = np.random.default_rng(eval_binarization_seed)
    x_train = _to_float(arrays["train_images"][train_idx])
    x_val_gray, x_test_gray = _to_float(arrays["train_images"][val_idx]), _to_float(x_test)
    x_val = binarize(x_val_gray, binarization, rng)
    x_test = binarize(x_test_gray, binarization, rng)
    return Split(x_train, labels[train_idx], x_val, labels[val_idx], x_test, y_test,
                 x_val_gray, x_test_gray, test_images, keep)


def prepared_dir(manifest: Path | str) -> str:
    """The verified data folder, as recorded by :func:`vaestudy.core.fetch.prepare` in its
    ``manifest`` (JSON): the jobs after ``prepare_data`` read their data from it."""
    return json.loads(Path(manifest).read_text())["dir"]

