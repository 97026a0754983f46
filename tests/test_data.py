"""The data loader: verified reading, clear errors, the download fallback, split, binarization."""

import gzip
import re
import socket
import threading
import time
import urllib.error

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


# Offsets of .gz bytes that carry data: the magic, the method, the flags, the first and a
# middle byte of the deflate stream (a flip there raised a raw zlib.error), the CRC-32 and
# the length. (Bytes 4-9, the time stamp and OS, carry none: flipping them changes nothing.)
FLIPS = [0, 2, 3, 10, "middle", -8, -1]


def _damaged(raw: bytes, damage: str) -> bytes:
    """The .gz bytes ``raw`` with one damage: ``flip@K`` inverts byte K, ``truncate`` keeps
    the first half, ``payload`` is a valid gzip file of other bytes."""
    if damage == "truncate":
        return raw[: len(raw) // 2]
    if damage == "payload":
        return gzip.compress(b"not the MNIST file")
    where = damage.removeprefix("flip@")
    offset = len(raw) // 2 if where == "middle" else int(where)
    flipped = bytearray(raw)
    flipped[offset] ^= 0xFF
    return bytes(flipped)


@pytest.mark.parametrize("damage", [f"flip@{k}" for k in FLIPS] + ["truncate", "payload"])
@pytest.mark.parametrize("name", sorted(data.FILES.values()))
def test_every_damage_of_a_data_file_is_one_error_naming_it(root, tmp_path, name, damage):
    raw = (root / "resources" / "mnist" / f"{name}.gz").read_bytes()
    (tmp_path / f"{name}.gz").write_bytes(_damaged(raw, damage))
    error = rf"{name}\.gz: corrupt, not the official MNIST file \(.*\)\. Delete it and re-run"
    with pytest.raises(DataError, match=rf"{error}: .* Offline: copy the official file into"):
        data.read_idx(tmp_path, name)


def test_download_has_a_timeout_and_names_each_url_and_the_offline_fix(tmp_path, monkeypatch):
    """The network mocked: every mirror times out. The download gives urlopen a timeout
    (without one a silent mirror hung the workflow) and the error names each URL tried."""
    seen = []

    def timing_out(url, timeout=None):
        seen.append((url, timeout))
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(data.urllib.request, "urlopen", timing_out)
    name = "t10k-labels-idx1-ubyte"
    with pytest.raises(DataError) as err:
        data.download(name, tmp_path)
    urls = [mirror + name + ".gz" for mirror in data.MIRRORS]
    assert seen == [(url, data.DOWNLOAD_TIMEOUT_S) for url in urls]
    assert all(f"{url}: <urlopen error timed out>" in str(err.value) for url in urls)
    assert f"Offline: copy the official file into {tmp_path} " in str(err.value)


def test_a_silent_mirror_fails_within_the_timeout(tmp_path, monkeypatch):
    """A server on this machine that accepts the connection and never answers: the download
    gives up after its timeout and says which URL failed."""
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    name, errors = "t10k-labels-idx1-ubyte", []
    with socket.create_server(("127.0.0.1", 0)) as server:  # listens, never answers
        mirror = f"http://127.0.0.1:{server.getsockname()[1]}/"

        def attempt():
            try:
                data.download(name, tmp_path, mirrors=(mirror,), timeout=0.5)
            except DataError as err:
                errors.append(str(err))

        worker = threading.Thread(target=attempt, daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(timeout=10)
        hung = worker.is_alive()
    assert not hung, "the download hung on a silent mirror"
    assert time.monotonic() - started < 5
    assert errors and f"{mirror}{name}.gz: " in errors[0] and "timed out" in errors[0]


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


def test_subsets_are_seeded_stratified_draws_over_the_whole_split(mnist_copy):
    """The official test set is ordered (its first 5,000 digits are the cleaner NIST SD-3
    writers): a test subset is a seeded draw over all 10,000, each digit keeping its share,
    and records how it was drawn."""
    full = data.load_mnist(mnist_copy)
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


def test_mismatched_image_and_label_counts_are_rejected():
    arrays = {"train_images": np.zeros((60000, 1)), "train_labels": np.zeros(59999),
              "test_images": np.zeros((10000, 1)), "test_labels": np.zeros(10000)}
    with pytest.raises(DataError, match="train set has 60000 images and 59999 labels"):
        data.check_counts(arrays, "somewhere")


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
