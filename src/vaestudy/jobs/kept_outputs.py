"""A training job's finished outputs, kept where Snakemake does not delete them.

Snakemake deletes a job's outputs before it runs the job and again when the job fails, and
two ways of interrupting Snakemake make it run a job whose work is already done:

- **SIGINT to Snakemake alone** (a scheduler, a terminal multiplexer): it waits for the
  running jobs to finish, then exits without recording them as complete; the next run
  (``--rerun-incomplete``) forces them again ("reason: Forced execution").
- **A killed Snakemake** (``kill -9``, a lost login): its jobs go on as orphans and finish;
  the next run starts them again, deleting what the orphans had written.

So a training job keeps its finished outputs as hard links (no extra disk; a copy where the
file system has none) in the hidden folder ``.finished`` beside them, with a record of a key
of everything they depend on: the settings and the code version. Started again with the same
key, the job links them back into place instead of training: the same bytes, nothing
re-trained. A new key (changed settings or code, so ``--forcerun train`` after a code change
re-trains) replaces the kept outputs once the job finishes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from vaestudy.core.atomic import write_bytes, write_json

FOLDER = ".finished"
RECORD = "record.json"
#: The log of the job that produced the kept outputs (its per-epoch lines), as it was.
LOG = "job.log"
#: What each line of that log starts with when a restoring job quotes it in its own log.
QUOTE = "  | "


def key_hash(key: dict) -> str:
    """A fingerprint of ``key`` (JSON-ready: settings, grid point, code version)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _place(outputs: Mapping[str, str]) -> tuple[Path, Path]:
    """The folder that holds every output, and its ``.finished`` folder."""
    base = Path(os.path.commonpath([os.path.dirname(os.path.abspath(p))
                                    for p in outputs.values()]))
    return base, base / FOLDER


def folder(outputs: Mapping[str, str]) -> Path:
    """Where the outputs ``outputs`` (name -> path) are kept."""
    return _place(outputs)[1]


def _files(outputs: Mapping[str, str], base: Path) -> tuple[list[str], list[str]]:
    """The output files and folders relative to ``base`` (the files inside a folder output;
    hidden names, such as temporary files and Snakemake's timestamps, left out). Outputs may
    be relative to the working directory (Snakemake's, for a relative output_dir) while
    ``base`` is absolute."""
    files, folders = [], []
    for path in (Path(os.path.abspath(p)) for p in outputs.values()):
        if path.is_dir():
            folders.append(str(path.relative_to(base)))
            files += [str(p.relative_to(base)) for p in sorted(path.iterdir())
                      if p.is_file() and not p.name.startswith(".")]
        else:
            files.append(str(path.relative_to(base)))
    return files, folders


def _link(source: Path, target: Path) -> None:
    """Put ``source``'s file at ``target`` (replacing it): a hard link, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:  # no hard links here (another file system, FAT, some network shares)
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def keep(outputs: Mapping[str, str], key: dict, log: str | None = None,
         into: Path | None = None) -> None:
    """Keep the complete ``outputs`` (name -> file or folder) under ``key``, and a copy of the
    job's ``log`` so far (a job that restores them shows it), in their ``.finished`` folder or
    ``into`` another (:mod:`vaestudy.jobs.machine_cache`). The record is written last, so a
    kill during this leaves no record, never a partial one."""
    base, folder = _place(outputs)
    folder = into or folder
    (folder / RECORD).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    files, folders = _files(outputs, base)
    for name in files:
        _link(base / name, folder / name)
    if log and Path(log).is_file():
        write_bytes(folder / LOG, Path(log).read_bytes())
    write_json(folder / RECORD, {"key": key_hash(key), "files": files, "folders": folders,
                                 "settings": key})


def restore(outputs: Mapping[str, str], key: dict, source: Path | None = None) -> bool:
    """Put the outputs kept under ``key`` (in their ``.finished`` folder, or in ``source``)
    back in place; False (and the stale outputs of another key dropped) when there are none."""
    base, folder = _place(outputs)
    folder = source or folder
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return False
    if record["key"] != key_hash(key) or not all((folder / f).is_file()
                                                 for f in record["files"]):
        shutil.rmtree(folder, ignore_errors=True)
        return False
    for name in record["folders"]:
        (base / name).mkdir(parents=True, exist_ok=True)
    for name in record["files"]:
        _link(folder / name, base / name)
    return True


def restored(outputs: Mapping[str, str], key: dict, what: str, logger) -> bool:
    """Whether the ``outputs`` of a training (``what``) were kept by an earlier job with the
    same ``key`` and are back in place (:func:`restore`; said in ``logger``'s log)."""
    if not restore(outputs, key):
        return False
    logger.info("%s had finished with these settings and code: its outputs are restored "
                "from %s, nothing is trained (Snakemake ran the job again: it was interrupted "
                "before it recorded the job as done, --forcerun, or an output was deleted)",
                what, folder(outputs))
    kept_log = folder(outputs) / LOG
    if kept_log.is_file():
        quoted = kept_log.read_text(errors="replace").rstrip("\n").splitlines()
        logger.info("the log of the job that produced them, as it was (each line quoted "
                    "after '%s'):\n%s", QUOTE.strip(), "\n".join(QUOTE + line for line in quoted))
    return True
