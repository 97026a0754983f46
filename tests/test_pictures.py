"""The pieces of a run's pictures: tiling and the training animation (vaestudy.evaluation.picture_files);
interpolation paths, traversals, temperatures and the 2-D projection of the codes
(vaestudy.evaluation.latent_pictures); the test images a run's pictures show are the ones recorded
(vaestudy.evaluation.run_pictures, vaestudy.core.pictured)."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

from vaestudy.evaluation import latent_pictures as lp
from vaestudy.evaluation.picture_files import SCALE, gif_frames, save_gif, tile


def test_tile_layout_and_padding():
    picture = tile(np.ones((5, 28, 28)), cols=3, pad=2)
    assert picture.shape == ((2 * 30 + 2) * SCALE, (3 * 30 + 2) * SCALE)
    assert picture.dtype == np.uint8 and picture.max() == 255


@pytest.mark.parametrize("epochs", [1, 3])
def test_training_animation_has_one_labelled_frame_per_epoch(tmp_path, epochs):
    grids = np.zeros((epochs, 4, 28, 28), np.uint8)
    frames = gif_frames(grids, cols=2)
    assert len(frames) == epochs
    assert (frames[0][:30] != 255).any()  # the epoch label drawn on the white band
    save_gif(tmp_path / "t.gif", frames)
    assert iio.imread(tmp_path / "t.gif", index=None).shape[0] == epochs


def test_interpolation_paths():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    line = lp.lerp(a, b, 5)
    np.testing.assert_allclose(line[[0, -1]], [a, b])
    arc = lp.slerp(a, b, 5)
    np.testing.assert_allclose(arc[[0, -1]], [a, b], atol=1e-12)
    assert np.all(np.linalg.norm(arc, axis=1) > np.linalg.norm(line, axis=1) - 1e-12)


def test_traversal_moves_only_the_most_informative_dimensions():
    mean = np.random.default_rng(0).normal(size=(100, 4))
    codes, dims = lp.traversal_codes(mean, np.array([0.1, 3.0, 0.0, 1.0]), n_dims=2, steps=5)
    assert dims == [1, 3] and codes.shape == (10, 4)
    moved = codes[:5].std(axis=0) > 0
    assert moved.tolist() == [False, True, False, False]


def test_projection_keeps_2d_codes_and_reduces_larger_ones():
    mean2 = np.random.default_rng(1).normal(size=(50, 2))
    assert lp.project_2d(mean2)[0] is mean2
    points, axis = lp.project_2d(np.random.default_rng(2).normal(size=(50, 6)))
    assert points.shape == (50, 2) and axis.startswith("PCA")


def test_temperatures_scale_the_same_draws():
    eps = np.ones((3, 2))
    z = lp.temperature_draws(eps)
    assert z.shape == (3 * len(lp.TEMPERATURES), 2)
    np.testing.assert_allclose(z[::3, 0], lp.TEMPERATURES)


def test_the_pictures_show_the_recorded_test_images(tmp_path, mnist_copy):
    """A run's pictures (untrained models, a drawn test subset, gray images): the top row of
    the reconstructions is the recorded test images, one of each digit from 0 to 9, pixel for
    pixel the official images the record names; the interpolations are the recorded pairs
    (5 rows) above 3 rows of prior draws."""
    from vaestudy.core import data, datasets
    from vaestudy.core.config import run_config
    from vaestudy.evaluation.run_pictures import STEPS, RunPictures
    from vaestudy.vae.model import make_decoder, make_encoder

    cfg = run_config({"data": {"binarization": "none", "test_subset": 256}}, "bce", 2, 0)
    make_encoder(2, cfg.model).save(tmp_path / "encoder.keras")
    make_decoder(2, cfg.model).save(tmp_path / "decoder.keras")
    split = data.load_split(mnist_copy, 5000, 0, "none", 7, test_subset=256)
    pictures = RunPictures(tmp_path, tmp_path / "unused.npy", cfg, split, [1.0, 0.5])
    pictures.write("pictured_images", tmp_path / "pictured.json")
    record = json.loads((tmp_path / "pictured.json").read_text())
    assert [image["label"] for image in record["reconstructions"]] == list(range(10))
    official = datasets.read_idx(datasets.MNIST, mnist_copy, datasets.FILES["test_images"])
    top = pictures.reconstructions()[2 * SCALE:30 * SCALE:SCALE]  # the first row of tiles
    for k, image in enumerate(record["reconstructions"]):
        left = (2 + 30 * k) * SCALE
        np.testing.assert_array_equal(top[:, left:left + 28 * SCALE:SCALE],
                                      official[image["official_index"]])
    assert [[a["label"] != b["label"] for a, b in record["interpolations"]]] == [[True] * 5]
    assert pictures.interpolations().shape == ((8 * 30 + 2) * SCALE, (STEPS * 30 + 2) * SCALE)
