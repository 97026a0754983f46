"""Which test images a run's pictures show (vaestudy.core.pictured, drawn by data.balanced_draw), on
the real test labels of both datasets and on a drawn test subset: the reconstructions hold the
classes as equally as their number allows, shown by class; the two ends of every
interpolation are of different classes; both are seeded and recorded; the captions claim what
the draw holds."""

from types import SimpleNamespace

import jinja2
import numpy as np
import pytest
from conftest import FASHION, MNIST, template_source

from vaestudy.core import data, datasets, pictured

SEEDS = (0, 1, 2026)


def official_test_labels(name: str) -> np.ndarray:
    """The 10,000 labels of the official test set of dataset ``name`` (read, not copied)."""
    folder = MNIST if name == "mnist" else FASHION
    if not (folder / f"{datasets.FILES['test_labels']}.gz").exists():
        pytest.skip(f"{name} is not installed in {folder} (CI installs it)")
    return datasets.read_idx(datasets.get(name), folder, datasets.FILES["test_labels"])


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("seed", SEEDS)
def test_ten_reconstructions_show_one_image_of_each_class(name, seed):
    labels = official_test_labels(name)
    pick = pictured.reconstruction_images(labels, 10, seed)
    assert np.bincount(labels[pick], minlength=10).tolist() == [1] * 10
    assert labels[pick].tolist() == sorted(labels[pick])  # shown by class: 0 1 2 ... 9
    assert np.array_equal(pick, pictured.reconstruction_images(labels, 10, seed))
    assert not np.array_equal(pick, pictured.reconstruction_images(labels, 10, seed + 1))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("n, claim, counts", [
    (10, "one of each of the 10 classes", {1}),
    (7, "7 different classes, one each", {0, 1}),
    (30, "3 of each class", {3}),
    (25, "2 or 3 of each class", {2, 3}),
])
def test_the_caption_claims_what_the_reconstructions_hold(name, n, claim, counts):
    """The words of the captions (reconstructions_shown) against the classes of the pictured
    images, for several numbers of reconstructions."""
    labels = official_test_labels(name)
    assert pictured.reconstructions_shown(n, 0, name) == claim
    for seed in SEEDS:
        held = np.bincount(labels[pictured.reconstruction_images(labels, n, seed)],
                           minlength=10)
        assert set(held.tolist()) == counts and held.sum() == n
    # a test subset smaller than the number asked for: all of it is shown
    assert pictured.reconstructions_shown(10, 6, name) == "6 different classes, one each"


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("seed", SEEDS)
def test_interpolation_ends_are_of_different_classes(name, seed):
    labels = official_test_labels(name)
    pairs = pictured.interpolation_pairs(labels, seed)
    assert pairs.shape == (5, 2) and len(set(pairs.ravel().tolist())) == 10
    assert [labels[a] != labels[b] for a, b in pairs] == [True] * 5


def test_interpolation_pairs_are_drawn_with_the_seed():
    labels = official_test_labels("mnist")
    draws = [pictured.interpolation_pairs(labels, seed) for seed in SEEDS]
    assert np.array_equal(draws[0], pictured.interpolation_pairs(labels, SEEDS[0]))
    assert not np.array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[1], draws[2])


def test_a_drawn_test_subset_is_pictured_and_recorded(mnist_copy):
    """With test_subset, the pictures draw from the subset's own labels (not the official
    indices 0-13), and the record names each pictured image by its place in the evaluation's
    test images, its official index and its class."""
    split = data.load_split(mnist_copy, 5000, 3, "none", 7, test_subset=256)
    official = official_test_labels("mnist")
    for seed in SEEDS:
        chosen = pictured.choose(split.y_test, 10, seed)
        assert np.bincount(split.y_test[chosen.reconstructions], minlength=10).tolist() \
            == [1] * 10
        assert all(split.y_test[a] != split.y_test[b] for a, b in chosen.pairs)
        record = pictured.record(split, chosen, datasets.MNIST.classes, seed)
        assert record["seed"] == seed and "256 of the 10,000" in record["test_images"]
        shown = [record["reconstructions"], *record["interpolations"]]
        indices = [chosen.reconstructions, *chosen.pairs]
        for images, index in zip(shown, indices):
            assert [image["test_image"] for image in images] == index.tolist()
            for image in images:
                assert official[image["official_index"]] == image["label"]
                assert split.y_test[image["test_image"]] == image["label"]
                assert image["class"] == str(image["label"])  # MNIST's class names: digits
    whole = data.load_split(mnist_copy, 5000, 3, "none", 7)
    record = pictured.record(whole, pictured.choose(whole.y_test, 10, 0), ("x",) * 10, 0)
    assert all(image["official_index"] == image["test_image"]
               for image in record["reconstructions"])


def test_the_captions_take_their_claim_from_the_draw(root):
    """Both captions of reconstructions say what reconstructions_shown says for the
    configured number (the rules run_pictures and side_by_side pass it as ``params.shown``),
    the report's template what its dataset part says: no fixed "one per class"."""
    report = root / "workflow" / "report"
    job = SimpleNamespace(params=SimpleNamespace(shown=pictured.reconstructions_shown(7, 0,
                                                                                      "mnist")),
                          wildcards=SimpleNamespace(loss="bce", latent=2, seed=0))
    for caption in ("reconstructions.rst", "side_by_side_reconstructions.rst"):
        text = jinja2.Template((report / caption).read_text()).render(snakemake=job)
        assert "7 different classes, one each" in text and "per class" not in text, caption
    template = template_source()
    assert "{{ part.reconstructions_shown }}" in template and "per class" not in template
    rules = [(root / "workflow" / "rules" / f"{name}.smk").read_text()
             for name in ("evaluate", "report")]
    assert all("shown=reconstructions_shown" in text for text in rules)


def test_fewer_test_images_give_fewer_pairs():
    """Seven test images: three pairs (the seventh image joins none); one image or none: no
    interpolation at all, an empty [0, 2]."""
    labels = np.arange(7) % 3
    pairs = pictured.interpolation_pairs(labels, 0)
    assert pairs.shape == (3, 2) and len(set(pairs.ravel().tolist())) == 6
    for few in (labels[:1], labels[:0]):
        empty = pictured.interpolation_pairs(few, 0)
        assert empty.shape == (0, 2) and empty.dtype.kind == "i"
    assert pictured.choose(labels[:1], 10, 0).reconstructions.tolist() == [0]


def test_a_split_without_official_indices_records_none():
    """Test images of unknown origin (a Split made without ``test_index``) are recorded with
    no official index, not an invented one."""
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    x = np.zeros((8, 28, 28, 1), np.float32)
    split = data.Split(x, labels, x, labels, x, labels, x, x)
    chosen = pictured.choose(labels, 4, 0)
    record = pictured.record(split, chosen, datasets.MNIST.classes, 0)
    assert record["test_images"] is None
    shown = record["reconstructions"] + [end for pair in record["interpolations"] for end in pair]
    assert {image["official_index"] for image in shown} == {None}
    assert [image["label"] for image in record["reconstructions"]] == \
        sorted(labels[chosen.reconstructions].tolist())
