"""The datasets of the study, in one registry (TF-free: the workflow imports it before any
job): what each is, where its four IDX files come from, and their verified reading (finding
and downloading them: :mod:`vaestudy.core.fetch`). MNIST and Fashion-MNIST share the format,
the file names and the split sizes.

Why verify: a study is only reproducible if every run reads the same bytes. The SHA-256 sums
are of the *decompressed* files, which holds for recompressed copies (the committed MNIST,
Debian's Fashion-MNIST)."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The images of the two official parts, and the shape of one image (both datasets).
SPLIT_SIZES = {"train": 60000, "test": 10000}
IMAGE_SHAPE = (28, 28, 1)
#: The four IDX files (without ``.gz``); Fashion-MNIST uses MNIST's names.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_MAGIC = {3: 2051, 1: 2049}  # IDX magic numbers: images (3-D) and labels (1-D)
#: What damaged gzip data raises: a bad header or trailer, a truncation, or (zlib.error) a
#: flipped byte inside the deflate stream.
GZIP_DAMAGE = (OSError, EOFError, zlib.error)


class DataError(RuntimeError):
    """Missing, corrupt or inconsistent data, with a message that names the fix."""


@dataclass(frozen=True)
class Dataset:
    """One dataset of the study: what it is called, what its classes are, the SHA-256 of its
    four decompressed official files, and every place it can come from."""

    name: str  #: the config and path name ("fashion-mnist")
    title: str  #: as written in prose ("Fashion-MNIST")
    item: str  #: the word the report uses for one image ("garment")
    classes: tuple[str, ...]  #: the 10 class names, by label
    sha256: dict[str, str]  #: file name -> SHA-256 of its decompressed payload
    mirrors: tuple[str, ...]  #: base URLs of the official files, tried in order
    committed: str | None = None  #: repository folder of a committed copy
    system_dirs: tuple[str, ...] = ()  #: folders where a system package installs it
    install: str | None = None  #: the command that installs that package

    def how_to_get(self, directory: Path | str) -> str:
        """Every way to get the four files, numbered; a download goes into ``directory``."""
        files = ", ".join(f"{name}.gz" for name in FILES.values())
        ways = []
        if self.committed:
            ways.append(f"use the copy this repository commits in {self.committed} "
                        f"(`git restore {self.committed}` repairs it)")
        ways.append(f"set data.dirs.{self.name} to a folder holding the four official .gz "
                    f"files ({files})")
        if self.install:
            ways.append(f"`{self.install}` (Debian; installs them into "
                        f"{', '.join(self.system_dirs)})")
        ways.append(f"go online: the workflow downloads them from the official URLs "
                    f"{', '.join(self.mirrors)} (followed by the file name) into {directory}")
        numbered = "; ".join(f"({i}) {way}" for i, way in enumerate(ways, 1))
        return f"To get {self.title}: {numbered}."


#: SHA-256 of the decompressed official MNIST files (also in resources/mnist/SHA256SUMS).
_MNIST_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
#: SHA-256 of the decompressed official Fashion-MNIST files, measured on Debian's package
#: dataset-fashion-mnist (recompressed .gz files, the official payloads).
_FASHION_SHA256 = {
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}
MNIST = Dataset(
    name="mnist", title="MNIST", item="digit", classes=tuple(str(d) for d in range(10)),
    sha256=_MNIST_SHA256,
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's
             "https://ossci-datasets.s3.amazonaws.com/mnist/"),  # torchvision's
    committed="resources/mnist",
)
FASHION_MNIST = Dataset(
    name="fashion-mnist", title="Fashion-MNIST", item="garment",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
    sha256=_FASHION_SHA256,
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's
             "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    install="apt-get install dataset-fashion-mnist",
)
#: Every dataset of the study, by its config name.
DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST)}


def get(name: str) -> Dataset:
    """The dataset called ``name`` in the config; a :class:`DataError` names the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}.") from None


def verify_present(dataset: Dataset, folder: Path | str) -> list[str]:
    """Verify every file of ``dataset`` that ``folder`` holds (decompressed SHA-256: the
    :func:`_corrupt` error of the first damaged one) and return the names of the missing
    ones (``train-labels-idx1-ubyte.gz``, ...), which a download may still bring. Run before
    any job, so that a damaged file stops the workflow with one message, not inside a job."""
    folder, missing = Path(folder), []
    for name in FILES.values():
        if (folder / f"{name}.gz").is_file():
            _payload(dataset, folder / f"{name}.gz", name)
        else:
            missing.append(f"{name}.gz")
    return missing


def _corrupt(dataset: Dataset, path: Path, detail: str) -> DataError:
    """The one error of a damaged data file, whatever the damage (a flipped byte anywhere,
    truncation, a wrong payload): it names the file, the dataset, what was found and the fix."""
    return DataError(
        f"{path}: corrupt, not the official {dataset.title} file ({detail}). Delete it and "
        f"re-run: the workflow downloads it again. {dataset.how_to_get(path.parent)}"
    )


def _parse_idx(dataset: Dataset, raw: bytes, path: Path, ndim: int) -> np.ndarray:
    """Parse an IDX byte string, checking the magic number and that the size matches."""
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if magic != _MAGIC[ndim]:
        raise _corrupt(dataset, path, f"IDX magic number is {magic}, expected {_MAGIC[ndim]} "
                                      f"(a {ndim}-D unsigned-byte array)")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(dims)):
        raise _corrupt(dataset, path, f"header says shape {dims} but holds {len(body)} bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def checksum_mismatch(dataset: Dataset, raw: bytes, name: str) -> str | None:
    """How the decompressed bytes ``raw`` differ from the official file ``name`` (None: they
    are the official bytes)."""
    digest, expected = hashlib.sha256(raw).hexdigest(), dataset.sha256[name]
    return None if digest == expected else (f"SHA-256 of the decompressed bytes is {digest}, "
                                            f"expected {expected}")


def _payload(dataset: Dataset, path: Path, name: str) -> bytes:
    """The decompressed bytes of the file ``path`` of ``dataset`` (official file ``name``),
    checked against their SHA-256; any damage of the file (gzip, deflate, payload) is one
    :func:`_corrupt` error."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except GZIP_DAMAGE as err:
        detail = f"cannot be decompressed: {err}; truncated or damaged gzip"
        raise _corrupt(dataset, path, detail) from None
    mismatch = checksum_mismatch(dataset, raw, name)
    if mismatch:
        raise _corrupt(dataset, path, mismatch)
    return raw


def read_idx(dataset: Dataset, directory: Path | str, name: str) -> np.ndarray:
    """Read ``directory/name.gz`` (an IDX file) after checking its decompressed SHA-256
    (:func:`_payload`)."""
    path = Path(directory) / f"{name}.gz"
    if not path.exists():
        raise DataError(f"{path}: missing, one of the four {dataset.title} files. "
                        f"{dataset.how_to_get(directory)}")
    raw = _payload(dataset, path, name)
    return _parse_idx(dataset, raw, path, ndim=3 if "images" in name else 1)


def load(dataset: Dataset, directory: Path | str) -> dict[str, np.ndarray]:
    """The four verified arrays of ``dataset`` (keys of :data:`FILES`), counts checked."""
    arrays = {key: read_idx(dataset, directory, name) for key, name in FILES.items()}
    check_counts(dataset, arrays, directory)
    return arrays


def check_counts(dataset: Dataset, arrays: dict[str, np.ndarray],
                 directory: Path | str) -> None:
    """Images and labels of each part must agree in number (:data:`SPLIT_SIZES`)."""
    for part, count in SPLIT_SIZES.items():
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if not n_img == n_lab == count:
            raise DataError(
                f"{directory}: {part} set has {n_img} images and {n_lab} labels, expected "
                f"{count} of each: not the official {dataset.title} files. "
                f"{dataset.how_to_get(directory)}"
            )
