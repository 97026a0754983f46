#!/usr/bin/env python
"""Training speed of the study's VAE on this machine (a tool, not a test).

Times the package's own training, ``vaestudy.vae.train.train``, on the first ``--images`` training
images for ``--epochs`` epochs (the first traces the step; the last is the steady state) and
reads its step times through ``train``'s ``should_stop`` hook, which the loop polls after
every step: no copy of the loop. Variants: ``--bf16`` (``training.precision:
mixed_bfloat16``) and, unless ``--no-fit``, the same
model and loss (``vaestudy.vae.likelihoods.elbo_terms``) trained by a plain Keras ``model.fit``,
the reference a reader would write. Prints seconds per 55,000-image epoch, images/s,
GFLOP/s against a measured fp32 matmul, the validation pass and the validation loss reached.

  .venv/bin/python tools/benchmark.py                       # fp32 + Keras fit, all cores
  .venv/bin/python tools/benchmark.py --bf16 --threads 2 --images 16384 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EPOCH_IMAGES = 55_000


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="TensorFlow threads, set by vaestudy.jobs.runtime.configure (default: all)")
    p.add_argument("--images", type=int, default=8192, help="training images per epoch")
    p.add_argument("--epochs", type=int, default=2, help="epochs per variant (the last is timed)")
    p.add_argument("--repeats", type=int, default=1,
                   help="time every variant this many times, round-robin (a shared machine's "
                        "speed drifts); the table shows the fastest and the range")
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--loss", default="bce")
    p.add_argument("--bf16", action="store_true", help="also time mixed_bfloat16 training")
    p.add_argument("--no-fit", action="store_true", help="skip the Keras model.fit reference")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p.parse_args(argv)


def matmul_gflops(tf, n: int = 2048, reps: int = 6) -> float:
    """Achieved fp32 GFLOP/s of an n x n matmul: a practical ceiling for dense math."""
    a = tf.random.normal([n, n])
    f = tf.function(lambda x: tf.linalg.matmul(x, x))
    f(a).numpy()
    t0 = time.perf_counter()
    for _ in range(reps):
        f(a).numpy()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def forward_macs(model, input_shape) -> int:
    """Multiply-accumulates per image of the Conv2D / Conv2DTranspose / Dense layers."""
    import keras

    total, shape = 0, (None, *input_shape)
    for layer in model.layers:
        out = tuple(layer.compute_output_shape(shape))
        kernel = math.prod(getattr(layer, "kernel_size", ()))
        if isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel scatters a patch
            total += math.prod(shape[1:]) * kernel * out[3]
        elif isinstance(layer, keras.layers.Conv2D):
            total += math.prod(out[1:]) * kernel * shape[3]
        elif isinstance(layer, keras.layers.Dense):
            total += shape[-1] * out[-1]
        shape = out
    return total


def time_train(cfg, data) -> dict:
    """``vaestudy.vae.train.train`` itself; the step times of its last epoch via should_stop."""
    from vaestudy.vae.train import train

    ticks: list[float] = []

    def tick() -> bool:  # polled by train() after every step
        ticks.append(time.perf_counter())
        return False

    result = train(cfg, data, should_stop=tick)
    steps = -(-len(data.x_train) // cfg.training.batch_size)
    last = ticks[-steps:]  # the last epoch's steps; its first step is timed from its end
    step_seconds = (last[-1] - last[0]) / (steps - 1)
    epoch = result.history.iloc[-1]
    return {"step_seconds": step_seconds, "epoch_seconds": float(epoch.seconds),
            "val_neg_elbo": float(epoch.val_neg_elbo)}


def time_keras_fit(cfg, data) -> dict:
    """The same model, loss and optimizer trained by keras.Model.fit (a train_step override)."""
    import keras
    import tensorflow as tf

    from vaestudy.vae.likelihoods import Scale, elbo_terms
    from vaestudy.vae.model import make_decoder, make_encoder

    keras.utils.set_random_seed(cfg.seed)
    scale = Scale(cfg.likelihood)

    class FitVAE(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder = make_encoder(cfg.latent_dim, cfg.model)
            self.decoder = make_decoder(cfg.latent_dim, cfg.model)
            self.seeds = keras.random.SeedGenerator(cfg.seed)

        def train_step(self, data):
            batch = keras.utils.unpack_x_y_sample_weight(data)[0]
            eps = keras.random.normal([tf.shape(batch)[0], cfg.latent_dim], seed=self.seeds)
            with tf.GradientTape() as tape:
                terms = elbo_terms(self.encoder, self.decoder, batch, cfg.likelihood.family,
                                   eps, scale())
                loss = tf.reduce_mean(terms.neg_elbo)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return {"neg_elbo": loss}

    model = FitVAE()
    model.compile(optimizer=keras.optimizers.Adam(cfg.training.learning_rate))
    bs = cfg.training.batch_size
    model.fit(data.x_train[: 5 * bs], batch_size=bs, epochs=1, verbose=0)  # tracing
    t0 = time.perf_counter()
    model.fit(data.x_train, batch_size=bs, epochs=1, verbose=0, shuffle=True)
    steps = -(-len(data.x_train) // bs)
    return {"step_seconds": (time.perf_counter() - t0) / steps, "epoch_seconds": float("nan"),
            "val_neg_elbo": float("nan")}


def main(argv=None) -> int:
    args = parse_args(argv)
    from vaestudy.jobs import runtime

    runtime.configure(args.threads, seed=0)  # before TensorFlow runs any op
    import tensorflow as tf
    import yaml

    from vaestudy.core.config import run_config
    from vaestudy.jobs.devices import cpu_name

    def config(precision: str) -> dict:
        base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
        base["data"] = {**base.get("data", {}), "dir": str(ROOT / "resources" / "mnist"),
                        "train_subset": args.images}
        base["training"] = {**base.get("training", {}), "batch_size": args.batch,
                            "epochs": args.epochs, "early_stopping_patience": 0,
                            "precision": precision}
        return run_config(base, args.loss, args.latent, 0)

    fp32 = config("float32")
    data = fp32.data.load(fp32.binarization)
    plan = {"vaestudy.vae.train.train, fp32": lambda: time_train(fp32, data)}
    if args.bf16:
        plan["vaestudy.vae.train.train, bf16"] = lambda: time_train(config("mixed_bfloat16"), data)
    if not args.no_fit:
        plan["Keras model.fit, fp32"] = lambda: time_keras_fit(fp32, data)
    runs: dict[str, list[dict]] = {name: [] for name in plan}
    for rep in range(args.repeats):
        for name, run in plan.items():
            print(f"timing {name} ({rep + 1}/{args.repeats}) ...", file=sys.stderr, flush=True)
            runs[name].append(run())

    from vaestudy.vae.model import make_decoder, make_encoder

    macs = (forward_macs(make_encoder(args.latent, fp32.model), (28, 28, 1))
            + forward_macs(make_decoder(args.latent, fp32.model), (args.latent,)))
    flops = 2 * 3 * macs  # 2 FLOP per MAC; backward = 2 x forward
    gemm = matmul_gflops(tf)
    print(f"\n{cpu_name()}, {os.cpu_count()} CPUs; TensorFlow {tf.__version__}, "
          f"{args.threads} thread(s); fp32 2048² matmul {gemm:.0f} GFLOP/s\n"
          f"{args.loss}, latent {args.latent}, batch {args.batch}: {macs / 1e6:.2f} M MACs "
          f"forward, {flops / 1e6:.1f} MFLOP per training image; {args.images} images x "
          f"{args.epochs} epochs per variant, {args.repeats} repeat(s), last epoch timed\n")
    head = (f"{'variant':<32} {'s/epoch':>8} {'range':>11} {'img/s':>6} {'GFLOP/s':>8} "
            f"{'%matmul':>7} {'+prep,val s':>11} {'val -ELBO':>9}")
    print(head + "\n" + "-" * len(head))
    results = []
    for name, reps in runs.items():
        per_epoch = sorted(EPOCH_IMAGES / args.batch * r["step_seconds"] for r in reps)
        best = min(reps, key=lambda r: r["step_seconds"])
        ips = args.batch / best["step_seconds"]
        steps = -(-args.images // args.batch)
        val_pass = best["epoch_seconds"] - steps * best["step_seconds"]
        results.append({"variant": name, "epoch_seconds_55k": per_epoch, "images_per_s": ips,
                        "gflops": ips * flops / 1e9, **best})
        print(f"{name:<32} {per_epoch[0]:8.1f} {per_epoch[0]:5.1f}-{per_epoch[-1]:<5.1f} "
              f"{ips:6.0f} {ips * flops / 1e9:8.1f} {100 * ips * flops / 1e9 / gemm:6.0f}% "
              f"{val_pass:11.1f} {best['val_neg_elbo']:9.2f}")
    print("\ns/epoch: the steady-state step time x 55,000 / batch (training steps only); "
          "+prep,val s: the timed epoch's seconds in train()'s history minus its steps (the "
          f"epoch's shuffle and binarization, validation on {len(data.x_val)} images); "
          "val -ELBO: after the last epoch.")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "threads": args.threads,
                                         "matmul_gflops": gemm, "train_flops": flops,
                                         "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
