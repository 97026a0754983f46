"""Where a dataset's four files are and how they come: the folder the study reads
(:func:`locate`), whether a mirror answers before any job (:func:`require_obtainable`), and a
verified download that never leaves a partial file (:func:`download`, :func:`prepare`). What
a dataset is and how its files are verified: :mod:`vaestudy.core.datasets`."""

from __future__ import annotations

import gzip
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from vaestudy.core.datasets import (
    FILES,
    GZIP_DAMAGE,
    DataError,
    Dataset,
    checksum_mismatch,
    load,
    verify_present,
)

#: Seconds a mirror may stay silent (to connect, or between two reads) before it counts as
#: failed and the next one is tried: a missing file never hangs the workflow.
DOWNLOAD_TIMEOUT_S = 30.0
#: Seconds the check before any job gives each mirror to answer (:func:`probe_mirrors`).
PROBE_TIMEOUT_S = 5.0


def _holds_all(directory: Path) -> bool:
    """Whether ``directory`` holds all four .gz files (verified later, when read)."""
    return all((directory / f"{name}.gz").is_file() for name in FILES.values())


def locate(dataset: Dataset, given: Path | str | None, root: Path | str,
           cache: Path | str) -> Path | None:
    """The folder of the four files: ``given`` (the config's folder, relative to the
    repository ``root``) whenever it is set, even without the files (they are downloaded into
    it); else the first system folder, the committed copy or the download ``cache`` that holds
    all four; else None: they must be downloaded into ``cache``."""
    if given:
        return Path(root) / given  # an absolute ``given`` stays as it is
    candidates = [Path(d) for d in dataset.system_dirs]
    if dataset.committed:
        candidates.append(Path(root) / dataset.committed)
    candidates.append(Path(cache))
    return next((d for d in candidates if _holds_all(d)), None)


def probe_mirrors(dataset: Dataset, timeout: float = PROBE_TIMEOUT_S,
                  opener: Callable | None = None) -> dict[str, str | None]:
    """Ask each mirror for the first byte of the smallest file, so that an offline machine
    learns before any job that it cannot download: mirror -> None when it answered within
    ``timeout`` seconds, else why not. ``opener`` replaces ``urllib.request.urlopen``."""
    opener = opener or urllib.request.urlopen
    answers: dict[str, str | None] = {}
    for mirror in dataset.mirrors:
        url = f"{mirror}{FILES['test_labels']}.gz"
        request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
        try:
            with opener(request, timeout=timeout) as response:
                response.read(1)
            answers[mirror] = None
        except Exception as err:  # noqa: BLE001 - any failure means: no download from here
            answers[mirror] = f"{url}: {err}"
    return answers


def require_obtainable(dataset: Dataset, given: Path | str | None, root: Path | str,
                       cache: Path | str, timeout: float = PROBE_TIMEOUT_S,
                       opener: Callable | None = None) -> Path:
    """The folder the study reads ``dataset`` from (:func:`locate`, or ``cache``), checked
    before any job: when files are missing there, a mirror must answer, else a
    :class:`DataError` says that the dataset is not here, cannot be downloaded, and how to get
    it."""
    folder = locate(dataset, given, root, cache) or Path(cache)
    missing = verify_present(dataset, folder)
    if not missing:
        return folder
    answers = probe_mirrors(dataset, timeout, opener)
    if None in answers.values():
        return folder
    raise DataError(
        f"{dataset.title} is not on this machine ({folder} lacks {', '.join(missing)}) and "
        f"cannot be downloaded: offline, no mirror answered within {timeout:g} s ("
        + "; ".join(answers.values()) + f"). {dataset.how_to_get(folder)}"
    )


def _fetch_verified(dataset: Dataset, url: str, name: str, timeout: float) -> bytes:
    """The gzip file at ``url`` if it decompresses to the official bytes of ``name``, else a
    DataError saying what is wrong; a server silent for ``timeout`` seconds (to connect, or
    between two reads) raises TimeoutError (or URLError) instead of hanging."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        payload = response.read()
    try:
        mismatch = checksum_mismatch(dataset, gzip.decompress(payload), name)
    except GZIP_DAMAGE as err:
        mismatch = f"not a valid gzip file: {err}"
    if mismatch:
        raise DataError(mismatch)
    return payload


def download(dataset: Dataset, name: str, directory: Path | str,
             mirrors: tuple[str, ...] | None = None,
             timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``name.gz`` from the first mirror (default: the dataset's) that serves a file
    with the right checksum, giving each ``timeout`` seconds of silence before the next.

    The file is written to a temporary name and renamed once verified, so a corrupt or partial
    download is never left where a later step would read it; an existing file is never
    overwritten. The error names every URL tried, why it failed, and how to get the dataset.
    """
    target = Path(directory) / f"{name}.gz"
    if target.exists():
        raise DataError(f"{target}: exists; refusing to download over it. Delete it first.")
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in dataset.mirrors if mirrors is None else mirrors:
        url = mirror + name + ".gz"
        try:
            payload = _fetch_verified(dataset, url, name, timeout)
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
        f"{target}: could not be downloaded and verified from any {dataset.title} mirror (each "
        f"may stay silent for {timeout:g} s):\n  " + "\n  ".join(errors)
        + f"\n{dataset.how_to_get(target.parent)}"
    )


def prepare(dataset: Dataset, directory: Path | str, log: Callable[[str], object] = print
            ) -> dict:
    """Download the files of ``dataset`` missing from ``directory`` (never over an existing
    file), verify all four and return a manifest: the dataset, the folder, and each file's
    SHA-256 and array shape."""
    directory = Path(directory)
    for name in FILES.values():
        if not (directory / f"{name}.gz").exists():
            log(f"{directory / name}.gz is missing: downloading from the official mirrors")
            download(dataset, name, directory)
    arrays = load(dataset, directory)
    log(f"verified the four {dataset.title} files in {directory}")
    return {
        "dataset": dataset.name,
        "dir": str(directory),
        "files": {name: {"sha256_decompressed": dataset.sha256[name],
                         "shape": list(arrays[key].shape)} for key, name in FILES.items()},
    }
