"""Outputs that do not depend on the study, trained once per machine: the classifier of a
dataset's sample metrics (its settings, the data's checksums and the code make its key).

Every study of a dataset used to train the same classifier again (211 CPU s on MNIST). A
finished classifier is kept here, in a folder per key, and a study with another
``output_dir`` but the same settings, data and code links it into place instead of training
(:mod:`vaestudy.jobs.kept_outputs` does the keeping and restoring; hard links, so no extra
disk). Another setting, other data or other code is another key: it trains.

Where: :func:`vaestudy.core.cache_root.root` (``$VAESTUDY_CACHE``; ``off`` turns it off). An
entry is published whole (kept in a temporary folder, then renamed), so a killed job or two studies
finishing at once never leave a half-written one; a damaged entry is not trusted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from vaestudy.core.cache_root import ENV, root  # noqa: F401 - the cache's place, re-exported
from vaestudy.jobs import kept_outputs


def entry(kind: str, key: dict) -> Path | None:
    """The folder of the outputs of ``kind`` (e.g. ``classifier``) under ``key``."""
    folder = root()
    return None if folder is None else folder / kind / kept_outputs.key_hash(key)


def fetch(outputs: Mapping[str, str], key: dict, kind: str) -> Path | None:
    """Link the cached ``outputs`` of ``key`` into place; the entry it came from, or None
    when there is none (or no cache)."""
    folder = entry(kind, key)
    if folder is None or not folder.is_dir():
        return None
    return folder if kept_outputs.restore(outputs, key, source=folder) else None


def publish(outputs: Mapping[str, str], key: dict, kind: str, log: str | None = None) -> None:
    """Keep the finished ``outputs`` of ``key`` for other studies of this machine (nothing
    when the cache is off or an entry of the key exists)."""
    folder = entry(kind, key)
    if folder is None or folder.is_dir():
        return
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    kept_outputs.keep(outputs, key, log, into=tmp)
    try:
        tmp.rename(folder)
    except OSError:  # another study published it first
        shutil.rmtree(tmp, ignore_errors=True)


def restored(outputs: Mapping[str, str], key: dict, kind: str, what: str, logger) -> str | None:
    """Put the ``outputs`` of ``key`` back in place from the study's kept outputs
    (:func:`vaestudy.jobs.kept_outputs.restored`: ``"study"``) or else from this machine's
    cache (``"machine"``, said in ``logger``'s log); None when neither has them."""
    if kept_outputs.restored(outputs, key, what, logger):
        return "study"
    cached = fetch(outputs, key, kind)
    if cached is None:
        return None
    logger.info("%s: the outputs of these settings, data and code were made by an earlier "
                "study on this machine: linked from %s, nothing is trained (%s=off makes "
                "them again); this study's cost is this job's", what, cached, ENV)
    return "machine"


def keep(outputs: Mapping[str, str], key: dict, kind: str, log: str | None = None) -> None:
    """Keep the finished ``outputs`` of ``key`` in the study
    (:func:`vaestudy.jobs.kept_outputs.keep`) and for the other studies of this machine
    (:func:`publish`)."""
    kept_outputs.keep(outputs, key, log)
    publish(outputs, key, kind, log)
