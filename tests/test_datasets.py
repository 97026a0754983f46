"""The dataset registry: verified reading of MNIST and Fashion-MNIST, one clear error per
damage, where the files are found, whether they can be downloaded, and the download itself.
No real network: mirrors are file:// folders, a silent local socket or a mocked urlopen."""

import dataclasses
import functools
import gzip
import re
import socket
import threading
import time
import urllib.error
from pathlib import Path

import pytest
from conftest import FASHION, MNIST

from vaestudy.core import datasets, fetch
from vaestudy.core.datasets import FASHION_MNIST, DataError

BOTH = ["mnist", "fashion-mnist"]
SOURCE = {"mnist": MNIST, "fashion-mnist": FASHION}


@pytest.fixture(params=BOTH)
def copy(request):
    """(dataset, a private copy of its four files), for each dataset."""
    fixture = {"mnist": "mnist_copy", "fashion-mnist": "fashion_copy"}[request.param]
    return datasets.get(request.param), request.getfixturevalue(fixture)


@functools.cache
def official(dataset: str, name: str) -> bytes:
    """The .gz bytes of file ``name`` of ``dataset`` (read once); skips without Fashion."""
    path = SOURCE[dataset] / f"{name}.gz"
    if not path.exists():
        pytest.skip(f"{path} is absent: apt-get install dataset-fashion-mnist (CI installs it)")
    return path.read_bytes()


def test_the_registry_knows_both_datasets_and_names_them_on_a_typo():
    assert datasets.get("fashion-mnist") is FASHION_MNIST
    assert datasets.get("mnist").classes == tuple("0123456789")
    assert FASHION_MNIST.classes[0] == "T-shirt/top" and FASHION_MNIST.classes[9] == "Ankle boot"
    assert (datasets.MNIST.item, FASHION_MNIST.item) == ("digit", "garment")
    with pytest.raises(DataError, match="unknown dataset 'bogus'; known: mnist, fashion-mnist"):
        datasets.get("bogus")


#: The first training labels and the training images' mean pixel (the well-known constants).
KNOWN = {"mnist": ([5, 0, 4, 1, 9, 2, 1, 3], 0.13066),
         "fashion-mnist": ([9, 0, 0, 3, 0, 2, 7, 2], 0.2860)}


def test_official_files_load_with_expected_shapes(copy):
    dataset, folder = copy
    first_labels, mean = KNOWN[dataset.name]
    arrays = datasets.load(dataset, folder)
    assert arrays["train_images"].shape == (60000, 28, 28)
    assert arrays["test_images"].shape == (10000, 28, 28)
    assert arrays["train_labels"].shape == (60000,) and arrays["test_labels"].shape == (10000,)
    assert list(arrays["train_labels"][:8]) == first_labels
    assert abs(arrays["train_images"].mean() / 255 - mean) < 1e-4
    # the image shape every model and the classifier are built for: one gray channel
    assert arrays["test_images"].shape[1:] + (1,) == datasets.IMAGE_SHAPE


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
        return gzip.compress(b"not the official file")
    where = damage.removeprefix("flip@")
    offset = len(raw) // 2 if where == "middle" else int(where)
    flipped = bytearray(raw)
    flipped[offset] ^= 0xFF
    return bytes(flipped)


def _fix(dataset) -> str:
    """The start of the fix every error of ``dataset`` names (its ways to get it)."""
    return re.escape(f"To get {dataset.title}: (1) ")


@pytest.mark.parametrize("damage", [f"flip@{k}" for k in FLIPS] + ["truncate", "payload"])
@pytest.mark.parametrize("name", sorted(datasets.FILES.values()))
@pytest.mark.parametrize("which", BOTH)
def test_every_damage_of_a_data_file_is_one_error_naming_it(tmp_path, which, name, damage):
    dataset = datasets.get(which)
    (tmp_path / f"{name}.gz").write_bytes(_damaged(official(which, name), damage))
    error = (rf"{name}\.gz: corrupt, not the official {re.escape(dataset.title)} file \(.*\)\. "
             rf"Delete it and re-run: .* {_fix(dataset)}")
    with pytest.raises(DataError, match=error):
        datasets.read_idx(dataset, tmp_path, name)


def test_the_sums_are_each_datasets_own(mnist_copy):
    """MNIST's files are not Fashion-MNIST's: read as Fashion-MNIST they are rejected."""
    with pytest.raises(DataError, match="not the official Fashion-MNIST file .*SHA-256"):
        datasets.load(FASHION_MNIST, mnist_copy)


def test_missing_file_names_the_dataset_and_how_to_get_it(copy):
    dataset, folder = copy
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=rf"missing, one of the four {dataset.title} files\. "
                                        rf"{_fix(dataset)}"):
        datasets.load(dataset, folder)


def test_wrong_magic_and_short_body_are_rejected(tmp_path):
    header = (2049).to_bytes(4, "big") + (5).to_bytes(4, "big")
    with pytest.raises(DataError, match="magic number is 2049, expected 2051"):
        datasets._parse_idx(FASHION_MNIST, header + bytes(5), tmp_path / "x", ndim=3)
    with pytest.raises(DataError, match=r"shape \[5\] but holds 4 bytes"):
        datasets._parse_idx(FASHION_MNIST, header + bytes(4), tmp_path / "x", ndim=1)


def test_idx_headers_hold_32_bit_big_endian_sizes():
    """Every size of the header is read from its four bytes (sizes above 2^16 and 2^24
    too); a body of the stated size is the array; fewer than four bytes hold no magic."""
    def idx(magic: int, *dims: int) -> bytes:
        """An IDX header: the magic number and the sizes, 4 bytes each, big-endian."""
        return b"".join(v.to_bytes(4, "big") for v in (magic, *dims))

    body = bytes(range(24))
    array = datasets._parse_idx(FASHION_MNIST, idx(2051, 2, 3, 4) + body, Path("x"), ndim=3)
    assert array.shape == (2, 3, 4) and array.ravel().tolist() == list(body)
    big = [2**24 + 5, 2**16 + 7]
    with pytest.raises(DataError, match=rf"shape \[{big[0]}\] but holds 4 bytes"):
        datasets._parse_idx(FASHION_MNIST, idx(2049, big[0]) + bytes(4), Path("x"), ndim=1)
    with pytest.raises(DataError, match=rf"shape \[1, {big[0]}, {big[1]}\] but holds 4 bytes"):
        datasets._parse_idx(FASHION_MNIST, idx(2051, 1, *big) + bytes(4), Path("x"), ndim=3)
    with pytest.raises(DataError, match="magic number is 7, expected 2049"):
        datasets._parse_idx(FASHION_MNIST, idx(7), Path("x"), ndim=1)
    with pytest.raises(DataError, match="magic number is -1, expected 2049"):
        datasets._parse_idx(FASHION_MNIST, b"\x08\x01", Path("x"), ndim=1)


def test_mismatched_image_and_label_counts_are_rejected():
    arrays = {"train_images": range(60000), "train_labels": range(59999),
              "test_images": range(10000), "test_labels": range(10000)}
    with pytest.raises(DataError, match="train set has 60000 images and 59999 labels, expected "
                                        "60000 of each: not the official MNIST files"):
        datasets.check_counts(datasets.MNIST, arrays, "somewhere")


def test_fashion_mnist_names_exactly_its_three_ways(tmp_path):
    text = FASHION_MNIST.how_to_get(tmp_path)
    assert re.findall(r"\((\d)\) ", text) == ["1", "2", "3"]
    for part in ("(1) set data.dirs.fashion-mnist to a folder holding the four official .gz",
                 ("(2) `apt-get install dataset-fashion-mnist` (Debian; installs them into "
                  "/usr/share/datasets/fashion-mnist)"), "(3) go online", f"into {tmp_path}",
                 "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 *(f"{name}.gz" for name in datasets.FILES.values())):
        assert part in text
    mnist = datasets.MNIST.how_to_get(tmp_path)
    assert "(1) use the copy this repository commits in resources/mnist (`git restore " in mnist
    assert "(2) set data.dirs.mnist" in mnist and "(3) go online" in mnist
    assert "apt-get" not in mnist and "storage.googleapis.com/cvdf-datasets/mnist/" in mnist


def _mirror(tmp_path, name: str, payload: bytes) -> tuple[str, ...]:
    """A file:// mirror serving ``name.gz`` = ``payload``."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / f"{name}.gz").write_bytes(payload)
    return (folder.as_uri() + "/",)


@pytest.mark.parametrize("which", BOTH)
def test_download_from_mirror_verifies_and_never_overwrites(tmp_path, which):
    dataset, name = datasets.get(which), "t10k-labels-idx1-ubyte"
    mirrors, target = _mirror(tmp_path, name, official(which, name)), tmp_path / "fresh"
    path = fetch.download(dataset, name, target, mirrors=mirrors)
    assert datasets.read_idx(dataset, target, name).shape == (10000,)
    with pytest.raises(DataError, match="refusing to download over it"):
        fetch.download(dataset, name, target, mirrors=mirrors)
    assert path.exists()


def test_a_download_of_another_file_is_not_kept(tmp_path):
    """A mirror serving MNIST's labels under Fashion-MNIST's name: refused, nothing left."""
    name = "t10k-labels-idx1-ubyte"
    mirrors, target = _mirror(tmp_path, name, official("mnist", name)), tmp_path / "fresh"
    with pytest.raises(DataError, match="(?s)verified from any Fashion-MNIST mirror.*expected "
                                        + FASHION_MNIST.sha256[name]):
        fetch.download(FASHION_MNIST, name, target, mirrors=mirrors)
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("which", BOTH)
def test_download_has_a_timeout_and_names_each_url_and_the_fix(tmp_path, monkeypatch, which):
    """The network mocked: every mirror times out. The download gives urlopen a timeout
    (without one a silent mirror hung the workflow) and the error names each URL tried."""
    seen, dataset, name = [], datasets.get(which), "t10k-labels-idx1-ubyte"

    def timing_out(url, timeout=None):
        seen.append((url, timeout))
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(fetch.urllib.request, "urlopen", timing_out)
    with pytest.raises(DataError) as err:
        fetch.download(dataset, name, tmp_path)
    urls = [mirror + name + ".gz" for mirror in dataset.mirrors]
    assert seen == [(url, fetch.DOWNLOAD_TIMEOUT_S) for url in urls] and len(urls) == 2
    assert all(f"{url}: <urlopen error timed out>" in str(err.value) for url in urls)
    assert dataset.how_to_get(tmp_path) in str(err.value)


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
                fetch.download(FASHION_MNIST, name, tmp_path, mirrors=(mirror,), timeout=0.5)
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


def test_prepare_downloads_only_missing_files_and_records_the_dataset(copy, monkeypatch):
    dataset, folder = copy
    calls = []

    def fake_download(dataset, name, directory):
        calls.append(name)
        (directory / f"{name}.gz").write_bytes(official(dataset.name, name))

    monkeypatch.setattr(fetch, "download", fake_download)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    manifest = fetch.prepare(dataset, folder, log=lambda msg: None)
    assert calls == ["t10k-images-idx3-ubyte"]
    assert manifest["dataset"] == dataset.name and manifest["dir"] == str(folder)
    assert manifest["files"]["train-images-idx3-ubyte"] == {
        "sha256_decompressed": dataset.sha256["train-images-idx3-ubyte"],
        "shape": [60000, 28, 28]}


def _fill(folder, files: int = 4, which: str | None = None):
    """``folder`` with the first ``files`` of the four names: empty (locate only looks at
    names) or, with ``which``, that dataset's official files (require_obtainable verifies
    what it finds)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in list(datasets.FILES.values())[:files]:
        (folder / f"{name}.gz").write_bytes(official(which, name) if which else b"")
    return folder


def test_locate_prefers_given_then_system_then_committed_then_cache(tmp_path):
    root, cache = tmp_path / "repo", _fill(tmp_path / "out" / "data")
    partial, system = _fill(tmp_path / "sys1", files=3), _fill(tmp_path / "sys2")
    committed = _fill(root / "resources" / "set")
    dataset = dataclasses.replace(FASHION_MNIST, system_dirs=(str(partial), str(system)),
                                  committed="resources/set")
    assert fetch.locate(dataset, "mine", root, cache) == root / "mine"  # even if empty
    assert fetch.locate(dataset, str(cache), root, cache) == cache  # absolute stays
    order = [system, committed, cache]
    for found in order:
        assert fetch.locate(dataset, None, root, cache) == found
        (found / "train-images-idx3-ubyte.gz").unlink()
    assert fetch.locate(dataset, None, root, cache) is None


def _answers(seen: list):
    """A urlopen stand-in whose mirrors all answer, recording (url, range, timeout)."""
    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            return b"\x1f"[:n]

    def opener(request, timeout):
        seen.append((request.full_url, request.get_header("Range"), timeout))
        return Response()
    return opener


def _offline(request, timeout):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_require_obtainable_offline_names_the_three_ways(tmp_path):
    dataset = dataclasses.replace(FASHION_MNIST, system_dirs=(str(tmp_path / "absent"),))
    cache = tmp_path / "out" / "data" / "fashion-mnist"
    with pytest.raises(DataError) as err:
        fetch.require_obtainable(dataset, None, tmp_path, cache, opener=_offline)
    text = str(err.value)
    assert text.startswith("Fashion-MNIST is not on this machine")
    assert "cannot be downloaded: offline" in text
    assert text.count("Temporary failure in name resolution") == 2
    assert text.endswith(dataset.how_to_get(cache))
    given = _fill(tmp_path / "given", files=3, which="fashion-mnist")  # lacks a file: named
    with pytest.raises(DataError, match=f"{given} lacks t10k-labels-idx1-ubyte.gz\\) and"):
        fetch.require_obtainable(dataset, str(given), tmp_path, cache, opener=_offline)


@pytest.mark.parametrize("damage", ["flip@middle", "flip@-8", "flip@-1", "truncate"])
@pytest.mark.parametrize("name", sorted(datasets.FILES.values()))
def test_require_obtainable_refuses_a_damaged_file_before_any_download(tmp_path, name, damage):
    """Before any job, every file present is verified: a damaged one is the one error naming
    it (not a missing file to download, not a traceback from inside prepare_data)."""
    given = _fill(tmp_path / "given", which="mnist")
    (given / f"{name}.gz").write_bytes(_damaged(official("mnist", name), damage))
    asked = []
    with pytest.raises(DataError, match=rf"{given / name}\.gz: corrupt, not the official MNIST "
                                        rf"file \(.*\)\. Delete it and re-run"):
        fetch.require_obtainable(datasets.MNIST, str(given), tmp_path, tmp_path / "cache",
                                    opener=_answers(asked))
    assert asked == []  # refused before asking any mirror


def test_require_obtainable_online_downloads_into_the_cache(tmp_path):
    dataset = dataclasses.replace(FASHION_MNIST, system_dirs=(str(tmp_path / "absent"),))
    cache, seen = tmp_path / "out" / "data", []
    assert fetch.require_obtainable(dataset, None, tmp_path, cache, timeout=2.5,
                                       opener=_answers(seen)) == cache
    url = dataset.mirrors[0] + "t10k-labels-idx1-ubyte.gz"
    assert seen[0] == (url, "bytes=0-0", 2.5)
    system = _fill(tmp_path / "system", which="fashion-mnist")  # present here: no mirror asked
    dataset = dataclasses.replace(dataset, system_dirs=(str(system),))
    assert fetch.require_obtainable(dataset, None, tmp_path, cache, opener=_offline) == system


def test_probe_mirrors_says_which_answered(tmp_path):
    name = datasets.FILES["test_labels"]
    (answering,) = _mirror(tmp_path, name, official("mnist", name))
    silent = (tmp_path / "empty").as_uri() + "/"
    dataset = dataclasses.replace(datasets.MNIST, mirrors=(answering, silent))
    answers = fetch.probe_mirrors(dataset)
    assert answers[answering] is None and answers[silent].startswith(f"{silent}{name}.gz: ")


def test_the_config_guide_states_the_waits_of_a_download():
    """config/README.md tells how long a missing dataset makes the workflow wait: the
    numbers are vaestudy.core.fetch's."""
    from vaestudy.core.fetch import DOWNLOAD_TIMEOUT_S, PROBE_TIMEOUT_S

    guide = " ".join((Path(__file__).parents[1] / "config" / "README.md").read_text().split())
    assert f"each mirror gets {PROBE_TIMEOUT_S:g} s to answer" in guide
    assert f"stays silent for {DOWNLOAD_TIMEOUT_S:g} s" in guide
