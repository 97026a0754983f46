"""MNIST in IDX format: verified loading, a checksum-verified download fallback, the
train/validation split and the binarization schemes of the study.

Why verify: a study is only reproducible if every run reads the same bytes. The SHA-256 sums
in ``SHA256SUMS`` are of the *decompressed* IDX files, so they hold whatever gzip level the
copy was compressed with.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: MNIST: the images of its two official parts, and the shape of one image.
SPLIT_SIZES = {"train": 60000, "test": 10000}
IMAGE_SHAPE = (28, 28, 1)

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: SHA-256 of the decompressed official files (also in resources/mnist/SHA256SUMS).
SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
#: Official mirrors (TensorFlow's and torchvision's), tried in order.
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
_MAGIC = {3: 2051, 1: 2049}  # IDX magic numbers: images (3-D) and labels (1-D)
#: Seconds a mirror may stay silent (to connect, or between two reads) before it counts as
#: failed and the next one is tried: a missing file never hangs the workflow.
DOWNLOAD_TIMEOUT_S = 30.0
#: What damaged gzip data raises: a bad header or trailer, a truncation, or (zlib.error) a
#: flipped byte inside the deflate stream.
_GZIP_DAMAGE = (OSError, EOFError, zlib.error)


class DataError(RuntimeError):
    """Missing, corrupt or inconsistent data, with a message that names the fix."""


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


def _offline_help(directory: Path) -> str:
    """How to supply the MNIST files without a download."""
    return (f"Offline: copy the official file into {directory} (this repository commits all "
            f"four in resources/mnist, see its README.md; `git restore resources/mnist` repairs "
            f"that copy), or set data.dir to a folder that holds them.")


def _corrupt(path: Path, detail: str) -> DataError:
    """The one error of a damaged data file, whatever the damage (a flipped byte anywhere,
    truncation, a wrong payload): it names the file, what was found and the fix."""
    return DataError(
        f"{path}: corrupt, not the official MNIST file ({detail}). Delete it and re-run: the "
        f"workflow downloads it again from the official mirrors. {_offline_help(path.parent)}"
    )


def _decompress(path: Path) -> bytes:
    """The decompressed bytes of ``path``; any gzip or deflate damage is :func:`_corrupt`."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except _GZIP_DAMAGE as err:
        raise _corrupt(path, f"cannot be decompressed: {err}; truncated or damaged gzip") from err


def _parse_idx(raw: bytes, path: Path, ndim: int) -> np.ndarray:
    """Parse an IDX byte string, checking the magic number and that the size matches."""
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if magic != _MAGIC[ndim]:
        raise _corrupt(path, f"IDX magic number is {magic}, expected {_MAGIC[ndim]} "
                             f"(a {ndim}-D unsigned-byte array)")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(dims)):
        raise _corrupt(path, f"header says shape {dims} but holds {len(body)} bytes of data")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _checksum_mismatch(raw: bytes, name: str) -> str | None:
    """How the decompressed bytes ``raw`` differ from the official file ``name`` (None: they
    are the official bytes)."""
    digest = hashlib.sha256(raw).hexdigest()
    if digest == SHA256[name]:
        return None
    return f"SHA-256 of the decompressed bytes is {digest}, expected {SHA256[name]}"


def read_idx(directory: Path, name: str) -> np.ndarray:
    """Read ``directory/name.gz`` (an IDX file) after checking its decompressed SHA-256."""
    path = Path(directory) / f"{name}.gz"
    if not path.exists():
        raise DataError(
            f"{path}: missing. Run the workflow (its rule prepare_data downloads it) or copy the "
            f"official MNIST files into {directory}."
        )
    raw = _decompress(path)
    mismatch = _checksum_mismatch(raw, name)
    if mismatch:
        raise _corrupt(path, mismatch)
    return _parse_idx(raw, path, ndim=3 if "images" in name else 1)


def load_mnist(directory: Path | str) -> dict[str, np.ndarray]:
    """Load the four verified MNIST arrays; checks that images and labels agree in count."""
    arrays = {key: read_idx(Path(directory), name) for key, name in FILES.items()}
    check_counts(arrays, directory)
    return arrays


def check_counts(arrays: dict[str, np.ndarray], directory: Path | str) -> None:
    """Images and labels of each part must agree in number (:data:`SPLIT_SIZES`)."""
    for part, count in SPLIT_SIZES.items():
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if not n_img == n_lab == count:
            raise DataError(
                f"{directory}: {part} set has {n_img} images and {n_lab} labels, "
                f"expected {count} of each. Replace the files with the official ones."
            )


def _fetch_verified(url: str, name: str, timeout: float) -> bytes:
    """The gzip file at ``url`` if it decompresses to the official bytes of ``name``, else a
    DataError saying what is wrong; a server silent for ``timeout`` seconds (to connect, or
    between two reads) raises TimeoutError (or URLError) instead of hanging."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        payload = response.read()
    try:
        mismatch = _checksum_mismatch(gzip.decompress(payload), name)
    except _GZIP_DAMAGE as err:
        mismatch = f"not a valid gzip file: {err}"
    if mismatch:
        raise DataError(mismatch)
    return payload


def download(name: str, directory: Path | str, mirrors: tuple[str, ...] = MIRRORS,
             timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``name.gz`` from the first mirror that serves a file with the right checksum,
    giving each mirror ``timeout`` seconds of silence before trying the next.

    The file is written to a temporary name and renamed only once verified, so a corrupt or
    partial download is never left where a later step would read it. An existing file is
    never overwritten. The error names every URL tried, why it failed, and how to supply the
    file offline.
    """
    target = Path(directory) / f"{name}.gz"
    if target.exists():
        raise DataError(f"{target}: exists; refusing to download over it. Delete it first.")
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror + name + ".gz"
        try:
            payload = _fetch_verified(url, name, timeout)
        except Exception as err:  # noqa: BLE001 - every mirror failure is reported below
            errors.append(f"{url}: {err}")
            continue
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):  # a failed write leaves nothing behind
                os.unlink(tmp)
        return target
    raise DataError(
        f"{target}: could not be downloaded and verified from any mirror (each may stay silent "
        f"for {timeout:g} s):\n  " + "\n  ".join(errors) + f"\n{_offline_help(target.parent)}"
    )


def stratified_draw(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded draw of ``n`` of the ``len(labels)`` items, each label
    keeping its share (every k-th item of a random permutation sorted by label). Why: the
    official test set is ordered (its first 5,000 digits are the cleaner NIST SD-3 writers),
    so "the first N" is not a sample of it; every subset of the study is such a draw."""
    total = len(labels)
    if not 0 < n <= total:
        raise DataError(f"cannot draw {n} of {total} items: use 1 to {total}.")
    order = np.random.default_rng(seed).permutation(total)
    by_label = order[np.argsort(labels[order], kind="stable")]
    picks = np.linspace(0, total, n, endpoint=False).astype(int)
    return np.sort(by_label[picks])


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
    """Seeded stratified split of ``range(n)``: each digit keeps its share in validation."""
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
    return (images.astype(np.float32) / 255.0)[..., None]  # [N, 28, 28, 1]


def check_sizes(validation_size: int, train_subset: int, test_subset: int,
                batch_size: int | None = None) -> None:
    """The subsets (0 = all) and the batch must fit the parts of MNIST (:data:`SPLIT_SIZES`,
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
) -> Split:
    """The study's data: a seeded train/validation split of the official training set and the
    official test set. Validation and test are binarized once (fixed seed) so that every run
    is evaluated on the same pixels; the training images stay grayscale so that a training
    loop can draw a fresh dynamic binarization each epoch (see :func:`binarize`).

    ``train_subset``/``test_subset`` keep a seeded draw of N items of the split (stratified
    by label, seed ``split_seed``: :func:`stratified_draw`), recorded in ``test_images``.
    """
    arrays = load_mnist(directory)
    labels = arrays["train_labels"]
    train_idx, val_idx = split_train_val(len(labels), validation_size, split_seed, labels)
    x_test, y_test = arrays["test_images"], arrays["test_labels"]
    check_sizes(validation_size, train_subset or 0, test_subset or 0)
    if train_subset:
        train_idx = train_idx[stratified_draw(labels[train_idx], train_subset, split_seed)]
    test_images = subset_record(test_subset or len(y_test), len(y_test), split_seed,
                                "official test images")
    if test_subset:
        keep = stratified_draw(y_test, test_subset, split_seed)
        x_test, y_test = x_test[keep], y_test[keep]
    rng = np.random.default_rng(eval_binarization_seed)
    x_train = _to_float(arrays["train_images"][train_idx])
    x_val_gray, x_test_gray = _to_float(arrays["train_images"][val_idx]), _to_float(x_test)
    x_val = binarize(x_val_gray, binarization, rng)
    x_test = binarize(x_test_gray, binarization, rng)
    return Split(x_train, labels[train_idx], x_val, labels[val_idx], x_test, y_test,
                 x_val_gray, x_test_gray, test_images)


def prepare(directory: Path | str, log=print) -> dict:
    """Download the MNIST files missing from ``directory`` (never over an existing file),
    verify all four and return a manifest: file names, SHA-256 and array shapes."""
    directory = Path(directory)
    for name in FILES.values():
        if not (directory / f"{name}.gz").exists():
            log(f"{directory / name}.gz is missing: downloading from the official mirrors")
            download(name, directory)
    arrays = load_mnist(directory)
    log(f"verified the four MNIST files in {directory}")
    return {
        "dir": str(directory),
        "files": {name: {"sha256_decompressed": SHA256[name], "shape": list(arrays[key].shape)}
                  for key, name in FILES.items()},
    }


def prepared_dir(manifest: Path | str) -> str:
    """The verified MNIST folder, as recorded by :func:`prepare` in its ``manifest`` (JSON):
    the jobs after ``prepare_data`` read their data from it."""
    return json.loads(Path(manifest).read_text())["dir"]
