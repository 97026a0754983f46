"""Training checkpoints that let a killed job resume with bit-identical results.

A checkpoint holds everything the rest of a run depends on: the weights, the optimizer's
moments, the likelihood scale, the state of the noise generator, the best weights so far and
the loop's position (epoch and step within it). The data order and the dynamic binarization of
an epoch are derived from (seed, epoch), so they need no saving. The file is written to a
temporary name and renamed (vaestudy.files), so a kill or a full disk during the write leaves
the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaestudy.files import write_bytes


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


def load(path: Path | str, models: dict, variables: dict, fingerprint: str):
    """Restore a checkpoint into ``models`` and ``variables``; returns (state, best_weights,
    samples), or None when there is no checkpoint or it belongs to another config."""
    path = Path(path)
    if not path.exists():
        return None
    with np.load(path) as data:
        meta = json.loads(data["meta"].tobytes().decode())
        if meta.pop("fingerprint") != fingerprint:
            return None
        for name, model in models.items():
            model.set_weights(_unpack(data, f"model/{name}/"))
        for name, vars_ in variables.items():
            for var, value in zip(vars_, _unpack(data, f"var/{name}/"), strict=True):
                var.assign(value)
        names = {k.split("/")[1] for k in data.files if k.startswith("best/")}
        best = {name: _unpack(data, f"best/{name}/") for name in names} or None
        samples = list(data["samples"]) if "samples" in data.files else []
    return LoopState(**meta), best, samples
