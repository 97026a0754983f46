"""Training checkpoints that let a killed job resume with bit-identical results.

A checkpoint holds everything the rest of a run depends on: the weights, the optimizer's
moments, the likelihood scale, the state of the noise generator, the best weights so far and
the loop's position (epoch and step within it). The data order and the dynamic binarization of
an epoch are derived from (seed, epoch), so they need no saving. The file is written to a
temporary name and renamed (vaestudy.core.atomic), so a kill or a full disk during the write leaves
the previous checkpoint intact. A checkpoint damaged afterwards (a truncated copy, a bad disk)
is set aside under another name with a warning, never loaded with pickle, and the run starts
from scratch: it is only a shortcut to the same result.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from vaestudy.core.atomic import write_bytes

#: What reading a damaged .npz raises: not a zip, a truncated member, a payload numpy refuses
#: (pickled objects: never loaded), bytes that are no JSON, arrays of the wrong shape.
UNREADABLE = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error)


@dataclass
class LoopState:
    """Where the training loop is and what it has gathered so far."""

    epoch: int = 1  # the epoch in progress (1-based)
    step: int = 0  # the next step of that epoch
    sums: list = field(default_factory=lambda: [0.0, 0.0, 0.0])  # running sums of the epoch
    rows: list = field(default_factory=list)  # history rows of the finished epochs
    best: float = float("inf")
    waited: int = 0
    stopped_early: bool = False
    elapsed: float = 0.0  # training seconds before this process
    last_finite: list | None = None  # the batch losses of the last step (all finite)


def config_hash(config: dict) -> str:
    """A short fingerprint of a run's config: a checkpoint is only resumed by its own config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _pack(prefix: str, arrays: list) -> dict:
    return {f"{prefix}{i:04d}": np.asarray(a) for i, a in enumerate(arrays)}


def _unpack(data, prefix: str) -> list:
    return [data[k] for k in sorted(k for k in data.files if k.startswith(prefix))]


def save(path: Path | str, models: dict, variables: dict, state: LoopState, best_weights,
         samples: list, fingerprint: str) -> None:
    """Write a checkpoint atomically. ``models``: name -> keras model; ``variables``: name ->
    list of tf.Variables (optimizer, scale, generator); ``best_weights``: name -> list of
    arrays (or None before the first epoch); ``samples``: the epoch sample grids so far."""
    arrays = {}
    for name, model in models.items():
        arrays.update(_pack(f"model/{name}/", model.get_weights()))
    for name, vars_ in variables.items():
        arrays.update(_pack(f"var/{name}/", [v.numpy() for v in vars_]))
    for name, weights in (best_weights or {}).items():
        arrays.update(_pack(f"best/{name}/", weights))
    if samples:
        arrays["samples"] = np.stack(samples)
    meta = {**state.__dict__, "fingerprint": fingerprint}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def _read(path: Path) -> tuple[dict, dict, dict, dict | None, list]:
    """Every array of the checkpoint at ``path``, read into memory (so that a damaged file
    fails here, before any model is touched): (meta, model weights, variable values, best
    weights or None, samples). Raises one of :data:`UNREADABLE`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes().decode())
        groups = {kind: {k.split("/")[1] for k in data.files if k.startswith(f"{kind}/")}
                  for kind in ("model", "var", "best")}
        weights = {kind: {name: _unpack(data, f"{kind}/{name}/") for name in names}
                   for kind, names in groups.items()}
        samples = list(data["samples"]) if "samples" in data.files else []
    return meta, weights["model"], weights["var"], weights["best"] or None, samples


def _fits(saved: list, current: list) -> None:
    """The saved arrays must be as many and of the same shapes as the ones they replace."""
    if [np.shape(a) for a in saved] != [np.shape(a) for a in current]:
        raise ValueError("saved arrays do not match the model's shapes")


def set_aside(path: Path) -> Path:
    """Rename the file at ``path`` to ``<name>.unreadable-<UTC time>`` beside it (kept for
    whoever wants to look at it, out of the way of the next checkpoint)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    path.rename(aside)
    return aside


def load(path: Path | str, models: dict, variables: dict, fingerprint: str,
         log: logging.Logger | None = None):
    """Restore a checkpoint into ``models`` and ``variables``; returns (state, best_weights,
    samples), or None when there is no checkpoint, it belongs to another config, or it cannot
    be read: then it is set aside (:func:`set_aside`) and ``log`` warns, naming both files."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        meta, weights, values, best, samples = _read(path)
        if meta.pop("fingerprint") != fingerprint:
            return None
        state = LoopState(**meta)
        for name, model in models.items():
            _fits(weights[name], model.get_weights())
        for name, vars_ in variables.items():
            _fits(values[name], [v.numpy() for v in vars_])
    except (*UNREADABLE, TypeError) as err:  # TypeError: meta of another LoopState
        aside = set_aside(path)
        (log or logging.getLogger(__name__)).warning(
            "checkpoint %s cannot be read (%s: %s): set aside as %s; the run trains from "
            "scratch (a checkpoint only saves time: the result is the same)", path,
            type(err).__name__, err, aside)
        return None
    for name, model in models.items():
        model.set_weights(weights[name])
    for name, vars_ in variables.items():
        for var, value in zip(vars_, values[name], strict=True):
            var.assign(value)
    return state, best, samples
