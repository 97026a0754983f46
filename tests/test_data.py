"""The data loader: verified reading, clear errors, the download fallback, split, binarization."""

import gzip

import numpy as np
import pytest

from vaestudy import data
from vaestudy.data import DataError


def test_official_files_load_with_expected_shapes(mnist_copy):
    arrays = data.load_mnist(mnist_copy)
    assert arrays["train_images"].shape == (60000, 28, 28)
    assert arrays["test_images"].shape == (10000, 28, 28)
    assert arrays["train_labels"].shape == (60000,)
    assert abs(arrays["train_images"].mean() / 255 - 0.13066) < 1e-4  # the MNIST constant


def test_truncated_file_is_a_clear_error(mnist_copy):
    path = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*truncated"):
        data.load_mnist(mnist_copy)


def test_wrong_checksum_names_file_and_expected_sum(mnist_copy):
    path = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one label changed
    path.write_bytes(gzip.compress(bytes(raw)))
    expected = data.SHA256["t10k-labels-idx1-ubyte"]
    with pytest.raises(DataError, match=f"t10k-labels-idx1-ubyte.gz.*{expected}"):
        data.load_mnist(mnist_copy)


def test_missing_file_says_how_to_get_it(mnist_copy):
    (mnist_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing.*download"):
        data.load_mnist(mnist_copy)


def test_wrong_magic_and_short_body_are_rejected(tmp_path):
    header = (2049).to_bytes(4, "big") + (5).to_bytes(4, "big")
    with pytest.raises(DataError, match="magic number is 2049, expected 2051"):
        data._parse_idx(header + bytes(5), tmp_path / "x", ndim=3)
    with pytest.raises(DataError, match=r"shape \[5\] but holds 4 bytes"):
        data._parse_idx(header + bytes(4), tmp_path / "x", ndim=1)


def test_download_from_mirror_verifies_and_never_overwrites(mnist_copy, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"{name}.gz").write_bytes((mnist_copy / f"{name}.gz").read_bytes())
    target = tmp_path / "fresh"
    path = data.download(name, target, mirrors=(mirror.as_uri() + "/",))
    assert data.read_idx(target, name).shape == (10000,)
    with pytest.raises(DataError, match="refusing to download over it"):
        data.download(name, target, mirrors=(mirror.as_uri() + "/",))
    assert path.exists()


def test_corrupt_download_is_not_kept(mnist_copy, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    target = tmp_path / "fresh"
    with pytest.raises(DataError, match="could not be downloaded and verified"):
        data.download(name, target, mirrors=(mirror.as_uri() + "/",))
    assert list(target.iterdir()) == []


def test_prepare_downloads_only_missing_files(mnist_copy, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "download", lambda name, d: calls.append(name))
    manifest = data.prepare(mnist_copy, log=lambda msg: None)
    assert calls == [] and manifest["files"]["train-images-idx3-ubyte"]["shape"] == [60000, 28, 28]


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


def test_mismatched_image_and_label_counts_are_rejected():
    arrays = {"train_images": np.zeros((60000, 1)), "train_labels": np.zeros(59999),
              "test_images": np.zeros((10000, 1)), "test_labels": np.zeros(10000)}
    with pytest.raises(DataError, match="train set has 60000 images and 59999 labels"):
        data.check_counts(arrays, "somewhere")
