#!/usr/bin/env python
"""Where one run's evaluation spends its time (a tool, not a test; issue 30).

Times each part of ``vaestudy.evaluation.evaluate.evaluate`` on a finished run of a study,
with the settings its ``metrics.json`` was computed with: TensorFlow's import and the model
and classifier loads (what every evaluate job pays before its first metric), the test-set
negative ELBO, the reconstructions, the importance-weighted log p(x), the sample metrics
(classifier), the latent metrics, and the whole ``evaluate`` call once more. Prints seconds per
part beside the CPU's name and vector extensions and the thread count, and whether the whole
call reproduced the run's ``metrics.json`` (the same numbers: a faster evaluation must keep
them).

  .venv/bin/python tools/evaluation_benchmark.py \
      results/runs/dataset~mnist/epochs~2/loss~bce/latent~16/seed~0
  .venv/bin/python tools/evaluation_benchmark.py RUN --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import vaestudy  # noqa: E402, F401 - before NumPy: its huge-page advice off, as in a job


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path,
                   help="a trained run's folder (results/runs/dataset~.../epochs~E/.../seed~N)")
    p.add_argument("--threads", type=int, default=1,
                   help="TensorFlow threads (the evaluate rule's default: 1)")
    p.add_argument("--repeats", type=int, default=1,
                   help="time each part this many times; the table shows the fastest")
    return p.parse_args(argv)


def _timed(fn, repeats: int):
    """(fastest seconds, last result) of ``repeats`` calls of ``fn``."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> int:
    args = parse_args(argv)
    from vaestudy.core import layout
    from vaestudy.core.data import prepared_dir
    from vaestudy.core.trained_run import load_trained_run
    from vaestudy.jobs.devices import cpu_name
    from vaestudy.jobs.runtime import configure

    run, study = args.run, args.run.parents[len(layout.RUN_PARTS)]  # OUT/runs/<key>
    key = layout.parse_run_path(run / layout.METRICS)
    stored = json.loads((run / layout.METRICS).read_text())
    sigma = json.loads((run / layout.TRAIN_FILES["summary"]).read_text())["sigma"]
    t0 = time.perf_counter()
    configure(args.threads, key.seed)
    import keras
    import numpy as np
    import tensorflow as tf

    from vaestudy.evaluation import evaluate as ev

    times = {"import TensorFlow, set threads": time.perf_counter() - t0}
    cfg = load_trained_run(run / layout.TRAIN_FILES["config"], stored["settings"],
                           prepared_dir(layout.manifest(study, key.dataset)))
    times["load the data"], data = _timed(cfg.load_data, 1)
    classifier_files = {name: layout.study_file(study, path).format(dataset=key.dataset)
                        for name, path in layout.CLASSIFIER_FILES.items()}
    t0 = time.perf_counter()
    encoder, decoder = ev.load_models(run / layout.TRAIN_FILES["model"])
    classifier = keras.models.load_model(classifier_files["model"], compile=False)
    feats = np.load(classifier_files["features"])
    times["load the models and classifier"] = time.perf_counter() - t0

    n, family = cfg.evaluation.batch_size, cfg.likelihood.family

    def neg_elbo():
        step = ev.make_eval_step(encoder, decoder, ev.Scale(cfg.likelihood, value=sigma), family,
                                 cfg.latent_dim, tf.random.Generator.from_seed(cfg.seed))
        return ev.evaluate_elbo(step, data.x_test, n, cfg.evaluation.elbo_samples)

    parts = {
        "negative ELBO": neg_elbo,
        "reconstructions (encode + decode)":
            lambda: ev.reconstruct(encoder, decoder, data.x_test, cfg, n, sigma),
        "log p(x), importance-weighted": lambda: ev.log_likelihood(encoder, decoder, sigma, cfg,
                                                                   data),
        "latent metrics": lambda: ev.latent_metrics(encoder, cfg, data)}
    for part, fn in parts.items():
        times[part], out = _timed(fn, args.repeats)
        if part.startswith("reconstructions"):
            recon = out
    times["sample metrics (classifier)"], _ = _timed(
        lambda: ev.sample_quality(decoder, sigma, classifier, recon, cfg, data, feats),
        args.repeats)
    times["whole evaluate() call"], values = _timed(
        lambda: ev.evaluate(encoder, decoder, sigma, cfg, data, classifier, feats), args.repeats)
    differ = [k for k, v in values.items() if isinstance(v, float) and "seconds" not in k
              and isinstance(stored.get(k), float)
              and abs(v - stored[k]) > 1e-6 * max(1.0, abs(v))]
    print(f"{run}\nCPU: {cpu_name()}; TensorFlow threads: {args.threads}; "
          f"fastest of {args.repeats}\n")
    print("| part | seconds |\n| --- | --- |")
    for part, seconds in times.items():
        print(f"| {part} | {seconds:.2f} |")
    print("\nthe run's metrics.json reproduced (relative 1e-6): "
          + ("yes" if not differ else "no, differs in " + ", ".join(differ)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
