"""Which test images the pictures of a run show, and how the captions say it: the
reconstructed images and the two ends of each interpolation, drawn from the run's own test
labels (so per dataset and per test subset) by :func:`vaestudy.core.data.balanced_draw` with the
seed ``pictures.latent_seed``, and their record (``pictured_images.json`` beside the pictures,
:data:`vaestudy.core.layout.PICTURED_IMAGES`).

Why drawn and balanced: fixed test indices pick what the official order holds (two pairs of
one Fashion-MNIST class; arbitrary images of a drawn test subset), and a draw that keeps each
class's share shows two 1s and no 6 among ten MNIST digits. Every run of a dataset with the
same test images and seed shows the same images, so the side-by-side picture of the losses
(made of the runs' own pictures) compares like with like. No TensorFlow here: the workflow
reads the captions' words when it plans.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vaestudy.core import datasets
from vaestudy.core.data import SPLIT_SIZES, Split, balanced_draw, describe_subset

#: Interpolations between two test images (the first rows of the picture).
N_PAIRS = 5


class Chosen(NamedTuple):
    """Indices into the run's test images: the reconstructed ones [n], in the order shown,
    and the two ends of each interpolation [pairs, 2]."""

    reconstructions: np.ndarray
    pairs: np.ndarray


def reconstruction_images(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The ``n`` reconstructed test images (all of them if there are fewer): a balanced draw,
    shown by class (label order, so that ten images of ten classes read 0 to 9)."""
    pick = balanced_draw(labels, min(n, len(labels)), seed)
    return pick[np.argsort(labels[pick], kind="stable")]


def interpolation_pairs(labels: np.ndarray, seed: int, n_pairs: int = N_PAIRS) -> np.ndarray:
    """[n_pairs, 2]: the ends of the interpolations, consecutive items of one balanced draw
    of 2 x ``n_pairs`` test images (fewer pairs with fewer images), hence of different
    classes wherever the test images hold two classes. With the same seed and ten
    reconstructions it is their draw: the interpolations join the reconstructed images."""
    n = min(2 * n_pairs, len(labels)) // 2 * 2
    if n == 0:
        return np.empty((0, 2), int)
    return balanced_draw(labels, n, seed).reshape(-1, 2)


def choose(labels: np.ndarray, n_reconstructions: int, seed: int) -> Chosen:
    """The test images of a run's pictures, from its test ``labels``."""
    return Chosen(reconstruction_images(labels, n_reconstructions, seed),
                  interpolation_pairs(labels, seed))


def record(split: Split, chosen: Chosen, classes: tuple[str, ...], seed: int) -> dict:
    """The pictured images as JSON-ready data: for each its place among the evaluation's
    test images (``test_image``), its index in the official test set (``official_index``),
    its label and class name (``classes``: by label); the seed and the test images drawn
    from."""
    def image(i: int) -> dict:
        label = int(split.y_test[i])
        official = None if split.test_index is None else int(split.test_index[i])
        return {"test_image": int(i), "official_index": official, "label": label,
                "class": classes[label]}

    drawn_by = f"{balanced_draw.__module__}.{balanced_draw.__name__}"
    return {"drawn_by": drawn_by, "seed": int(seed),
            "test_images": describe_subset(split.test_images) if split.test_images else None,
            "reconstructions": [image(i) for i in chosen.reconstructions],
            "interpolations": [[image(a), image(b)] for a, b in chosen.pairs]}


def describe_classes(n: int, n_classes: int) -> str:
    """What a balanced draw of ``n`` images of ``n_classes`` classes holds, in words ("one
    of each of the 10 classes", "7 different classes, one each", "3 of each class", "2 or 3
    of each class"), when each class has at least ceil(n / n_classes) test images: the
    official test sets' smallest class is MNIST's 892 fives, and a drawn test subset of m
    images keeps each class's share (at least floor(m x share) images of it)."""
    if n == n_classes:
        return f"one of each of the {n_classes} classes"
    if n < n_classes:
        return f"{n} different classes, one each"
    low = n // n_classes
    return f"{low} of each class" if n % n_classes == 0 else f"{low} or {low + 1} of each class"


def reconstructions_shown(n_reconstructions: int, test_subset: int, dataset: str) -> str:
    """The classes of a run's reconstructions in words, from the settings
    ``pictures.n_reconstructions`` and ``data.test_subset`` (0: the whole test set) of a run
    on ``dataset``: the captions' claim (:func:`describe_classes`)."""
    n = min(n_reconstructions, test_subset or SPLIT_SIZES["test"])
    return describe_classes(n, len(datasets.get(dataset).classes))
