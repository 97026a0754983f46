#!/usr/bin/env python
"""How much a test subset moves log p(x): the first N official test images against a seeded
stratified draw of N and against all 10,000 (a measurement, not a test; docs/reference.md).

MNIST's test set is ordered: its first 5,000 digits come from NIST SD-3 (Census Bureau
employees, cleaner), the last 5,000 from SD-1 (students). This tool estimates every test
image's log p(x) once with the study's own code (``vaestudy.vae.iwae.iwae_estimate`` on the
run's fixed evaluation binarization) and prints the mean ± standard error over each subset:
per-image estimates do not depend on which other images are in a batch, so the subsets are
compared on the same numbers. The per-image estimates are cached beside the run
(``log_px_per_image_K<k>.npy``, after every 200 images: an interrupted measurement resumes);
``--force`` recomputes them.

  .venv/bin/python tools/subset_bias.py \\
      results/subset-bias/runs/dataset~mnist/epochs~10/loss~bce/latent~16/seed~0 --k 1000 \\
      --n 2000 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 200  # images per cached step
sys.path.insert(0, str(ROOT / "src"))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a trained run's folder (model/, config.json, ...)")
    p.add_argument("--data", type=Path, default=None,
                   help="folder of the run's dataset (default: where vaestudy.core.fetch.locate "
                        "finds it: the system package's folder or the committed copy)")
    p.add_argument("--k", type=int, default=1000, help="importance samples per image")
    p.add_argument("--n", type=int, default=2000, help="images of the first-N and drawn subsets")
    p.add_argument("--seed", type=int, default=0, help="seed of the stratified draw")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow threads")
    p.add_argument("--force", action="store_true", help="recompute the cached estimates")
    return p.parse_args(argv)


def data_folder(dataset: str, given: Path | None, run: Path) -> Path:
    """The folder of the run's dataset: ``given``, else where the registry finds it."""
    from vaestudy.core import datasets, fetch

    found = fetch.locate(datasets.get(dataset), given, ROOT, run / "no-cache")
    if found is None:
        sys.exit(f"{dataset} is not on this machine: give its folder with --data")
    return found


def per_image_log_px(run: Path, k: int, n: int, seed: int, threads: int,
                     force: bool, data_dir: Path | None = None) -> tuple[np.ndarray, dict]:
    """log p(x) [10,000] of every official test image (K = ``k``; NaN where not computed yet),
    cached in the run folder after every chunk of images, so that an interrupted
    measurement goes on where it stopped. Order: the first ``n`` images, then the rest of
    the drawn ``n``, then all others, so that the two subsets are complete first."""
    from vaestudy.core.data import stratified_draw
    from vaestudy.core.trained_run import load_run_config
    from vaestudy.jobs import runtime

    cfg = load_run_config(run / "config.json")
    folder = data_folder(cfg.dataset, data_dir, run)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=str(folder)))
    runtime.configure(threads)
    data = cfg.load_data()  # a run's config keeps the whole test set
    cache = run / f"log_px_per_image_K{k}.npy"
    log_px = np.full(len(data.y_test), np.nan)
    if cache.exists() and not force:
        log_px = np.load(cache)
    drawn = stratified_draw(data.y_test, n, seed)
    order = list(dict.fromkeys([*range(n), *drawn, *range(len(log_px))]))
    todo = [i for i in order if np.isnan(log_px[i])]
    info = {"labels": data.y_test, "cfg": cfg, "drawn": drawn, "seconds": 0.0}
    if not todo:
        return log_px, info
    from vaestudy.evaluation.evaluate import load_models
    from vaestudy.vae.iwae import iwae_estimate, make_log_weights

    sigma = json.loads((run / "train_summary.json").read_text())["sigma"]
    encoder, decoder = load_models(run / "model")
    log_w = make_log_weights(encoder, decoder, cfg.likelihood.family, cfg.latent_dim, sigma)
    for start in range(0, len(todo), CHUNK):
        part = np.array(todo[start:start + CHUNK])
        t0 = time.perf_counter()
        log_px[part] = iwae_estimate(log_w, data.x_test[part], k, cfg.latent_dim,
                                     cfg.evaluation.seed + int(part[0]))["log_px"]
        info["seconds"] += time.perf_counter() - t0
        np.save(cache, log_px)
        print(f"{np.isfinite(log_px).sum():,} of {len(log_px):,} images done, "
              f"{info['seconds']:.0f} s", flush=True)
    return log_px, info


def summary(name: str, values: np.ndarray) -> str:
    se = values.std(ddof=1) / np.sqrt(len(values))
    return f"| {name} | {len(values):,} | {values.mean():.2f} | {se:.2f} |"


def main(argv=None) -> None:
    from vaestudy.jobs.devices import cpu_name

    args = parse_args(argv)
    log_px, info = per_image_log_px(args.run, args.k, args.n, args.seed, args.threads,
                                    args.force, args.data)
    cfg, half = info["cfg"], len(log_px) // 2
    print(f"run {args.run}: {cfg.loss}, latent {cfg.latent_dim}, seed {cfg.seed}, "
          f"{cfg.binarization}-binarized test images (evaluation seed "
          f"{cfg.data.eval_binarization_seed}), K = {args.k}; {cpu_name()}, "
          f"{info['seconds']:.0f} s of estimates in this call")
    print("| test images | n | mean log p(x) (nats) | SE |\n|---|---|---|---|")
    for name, values in ((f"first {args.n:,}", log_px[: args.n]),
                         (f"drawn {args.n:,} (seed {args.seed}, stratified)", log_px[info["drawn"]]),
                         ("all", log_px), (f"first {half:,} (SD-3)", log_px[:half]),
                         (f"last {half:,} (SD-1)", log_px[half:])):
        done = values[np.isfinite(values)]
        if len(done) == len(values):
            print(summary(name, values))
        else:
            print(f"| {name} | {len(done):,} of {len(values):,} done | | |")


if __name__ == "__main__":
    main()
