#!/usr/bin/env python
"""Training speed of the study's VAE on this machine (a tool, not a test).

Times the workflow's own training step (``vaestudy.train.make_train_step`` on the models of
``vaestudy.model.make_encoder/make_decoder``, TensorFlow threads set by
``vaestudy.runtime.configure``) in the same Python loop as ``vaestudy.train.train``, for the
tutorial architecture at one latent size and batch size, and reports

- seconds per epoch (55,000 training images; ``--images N`` times the first N images of the
  epoch and extrapolates) and the epoch including the per-epoch validation pass,
- images per second and achieved GFLOP/s, next to an estimate of the machine's fp32 peak and
  a measured large-matmul rate,
- the same model trained by a plain Keras ``model.fit`` (a ``keras.Model`` subclass with a
  ``train_step``, graph mode) and the ratio of the project loop's time to it,
- variants (``--bf16``: mixed precision bfloat16; ``--xla``: the same step compiled with XLA)
  with the training and validation loss after the same number of steps, next to a second
  fp32 seed for the seed-to-seed spread (quality at equal steps).

  .venv/bin/python tools/benchmark.py                       # fp32 + Keras fit, all cores
  .venv/bin/python tools/benchmark.py --bf16 --xla --threads 2 --images 27648
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
EPOCH_IMAGES = 55_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="TensorFlow intra-op threads (default: all CPUs, %(default)s)")
    p.add_argument("--inter-op", type=int, default=None,
                   help="override the inter-op threads that vaestudy.runtime.configure sets "
                        "(1), to test running independent ops side by side")
    p.add_argument("--determinism", choices=("on", "off"), default="on",
                   help="TensorFlow op determinism: 'on' as vaestudy.runtime.configure sets "
                        "it (bit-identical resume), 'off' to measure what it costs")
    p.add_argument("--no-workflow-epoch", action="store_true",
                   help="skip timing one real epoch of vaestudy.train.train (its history's "
                        "seconds: training, validation and the sample grid)")
    p.add_argument("--images", type=int, default=EPOCH_IMAGES,
                   help="training images timed per variant; the epoch time is extrapolated "
                        "to 55,000 (default %(default)s)")
    p.add_argument("--repeats", type=int, default=1,
                   help="time every variant this many times, round-robin (a shared or virtual "
                        "machine's speed drifts); the table shows the median and the range")
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--loss", default="bce")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps (tracing) per variant")
    p.add_argument("--bf16", action="store_true",
                   help="also time mixed precision bfloat16 (keras.mixed_precision policy "
                        "'mixed_bfloat16', float32 outputs)")
    p.add_argument("--xla", action="store_true",
                   help="also time the same step compiled with XLA (jit_compile=True)")
    p.add_argument("--nosync", action="store_true",
                   help="also time the step without reading the loss back every step (the "
                        "values are fetched and checked once at the end): the cost of the "
                        "per-step host sync that a tf.data/asynchronous loop would remove")
    p.add_argument("--no-fit", action="store_true", help="skip the Keras model.fit reference")
    p.add_argument("--layers", action="store_true",
                   help="also time forward + backward of each layer alone (fp32, and bf16 "
                        "with --bf16): where the step's time goes")
    p.add_argument("--fma-units", type=float, default=None,
                   help="512-bit FMA operations per cycle per core for the peak estimate "
                        "(default: 1 on AMD Zen 4, which splits AVX-512 over two 256-bit "
                        "FMA pipes; 2 on Intel AVX-512 server cores)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p.parse_args(argv)


# --- Machine ---------------------------------------------------------------------------------

def lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def peak_estimate(fma_units: float | None) -> dict:
    """fp32 peak = physical cores x clock x SIMD lanes x 2 (an FMA is two FLOPs) x FMA units.
    Clock: lscpu's 'CPU max MHz' when the kernel shows it, else /proc/cpuinfo's 'cpu MHz'
    (nominal; a VM usually hides the boost clock)."""
    info = lscpu()
    flags = info.get("Flags", "")
    cores = int(info.get("Core(s) per socket", 1)) * int(info.get("Socket(s)", 1))
    mhz = float(info.get("CPU max MHz", 0) or 0)
    if not mhz:
        text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        found = re.findall(r"cpu MHz\s*:\s*([\d.]+)", text)
        mhz = max(map(float, found)) if found else 0.0
    if "avx512f" in flags:
        lanes, simd = 16, "AVX-512"
    elif "avx2" in flags:
        lanes, simd = 8, "AVX2"
    else:
        lanes, simd = 4, "SSE"
    vendor = info.get("Vendor ID", "")
    if fma_units is None:
        # Zen 4: two 256-bit FMA pipes = one 512-bit FMA per cycle; Intel Xeon: two 512-bit.
        fma_units = 1.0 if (vendor == "AuthenticAMD" and lanes == 16) else 2.0
        if lanes == 8:
            fma_units = 2.0  # two 256-bit FMA pipes (Haswell and later, Zen 2/3)
    gflops = cores * mhz / 1000 * lanes * 2 * fma_units
    return {"model": info.get("Model name", platform.processor()), "vendor": vendor,
            "cores": cores, "mhz": mhz, "simd": simd, "lanes": lanes, "fma_units": fma_units,
            "bf16_dot": "avx512_bf16" in flags, "peak_gflops": gflops,
            "formula": f"{cores} cores x {mhz / 1000:.2f} GHz x {lanes} fp32 lanes ({simd}) "
                       f"x 2 FLOP/FMA x {fma_units:g} FMA/cycle = {gflops:.0f} GFLOP/s"}


def matmul_rate(tf, dtype, n: int = 2048, reps: int = 6) -> float:
    """Achieved GFLOP/s of an n x n matmul (a practical ceiling for dense math)."""
    a = tf.random.normal([n, n], dtype=tf.float32)
    a = tf.cast(a, dtype)
    f = tf.function(lambda x: tf.linalg.matmul(x, x))
    f(a).numpy()
    t0 = time.perf_counter()
    for _ in range(reps):
        f(a).numpy()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


class OtherLoad:
    """CPU (in cores) that other processes used while a block ran: the machine's busy time
    from /proc/stat minus this process's CPU time, over the block's wall time."""

    def __enter__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), time.process_time()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        own = time.process_time() - self.own0
        self.cores = max(0.0, (self._busy() - self.busy0 - own) / wall) if wall else 0.0

    @staticmethod
    def _busy() -> float:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except OSError:
            return 0.0
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --- Model FLOPs -----------------------------------------------------------------------------

def model_macs(model, input_shape) -> list[tuple[str, int]]:
    """Multiply-accumulates per image of each Conv2D / Conv2DTranspose / Dense layer,
    propagating shapes through the model (batch dimension None)."""
    import keras

    rows, shape = [], (None, *input_shape)
    for layer in model.layers:
        out = tuple(layer.compute_output_shape(shape))
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw = layer.kernel_size
            # every input pixel scatters a kh x kw x out_c patch
            macs = shape[1] * shape[2] * shape[3] * kh * kw * out[3]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            macs = out[1] * out[2] * out[3] * kh * kw * shape[3]
        elif isinstance(layer, keras.layers.Dense):
            macs = shape[-1] * out[-1]
        else:
            macs = 0
        if macs:
            rows.append((f"{model.name}/{layer.name} {shape[1:]}->{out[1:]}", int(macs)))
        shape = out
    return rows


def layer_times(tf, encoder, decoder, latent: int, batch: int, bf16: bool, reps: int = 30):
    """Seconds per forward + backward (input and weight gradients) of each layer alone on a
    batch, rebuilt from its config (under the bf16 policy when asked)."""
    rows = []
    for model, shape in ((encoder, (28, 28, 1)), (decoder, (latent,))):
        shape = (batch, *shape)
        for layer in model.layers:
            out = tuple(layer.compute_output_shape(shape))
            if not layer.weights:
                shape = out
                continue
            cfg = layer.get_config() | {"dtype": "mixed_bfloat16" if bf16 else "float32"}
            clone = type(layer).from_config(cfg)
            x = tf.random.normal(shape)
            clone.build(shape)

            first = layer is model.layers[0] and model is encoder  # no input gradient needed

            @tf.function
            def fwd_bwd(x, clone=clone, first=first):
                with tf.GradientTape() as tape:
                    if not first:
                        tape.watch(x)
                    y = tf.cast(clone(x), tf.float32)
                    loss = tf.reduce_sum(y * y)
                targets = clone.trainable_variables if first else [x, *clone.trainable_variables]
                return tape.gradient(loss, targets)

            fwd_bwd(x)
            t0 = time.perf_counter()
            for _ in range(reps):
                [g.numpy() for g in fwd_bwd(x)]
            rows.append((f"{model.name}/{layer.name}", (time.perf_counter() - t0) / reps))
            shape = out
    return rows


# --- Variants --------------------------------------------------------------------------------

def build(args, cfg, bf16: bool):
    """The workflow's encoder/decoder, as ``training.precision`` builds them: float32, or
    the 'mixed_bfloat16' policy with float32 outputs (so that the ELBO, its TFP
    distributions and eps stay float32)."""
    import keras

    from vaestudy.model import make_decoder, make_encoder

    precision = "mixed_bfloat16" if bf16 else "float32"
    keras.utils.set_random_seed(cfg.seed)
    return (make_encoder(cfg.latent_dim, cfg.model, precision),
            make_decoder(cfg.latent_dim, cfg.model, precision))


def run_project_loop(args, cfg, data, name, bf16=False, xla=False, sync=True) -> dict:
    """The loop of vaestudy.train.train for one epoch's first ``args.images`` images:
    numpy batches, one compiled step per batch, the finite check on every step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from vaestudy.likelihoods import Scale
    from vaestudy.train import (
        _check_finite,
        _epoch_images,
        evaluate_elbo,
        make_eval_step,
        make_train_step,
    )

    encoder, decoder = build(args, cfg, bf16)
    scale = Scale(cfg.likelihood)
    optimizer = keras.optimizers.Adam(learning_rate=cfg.training.learning_rate)
    step = make_train_step(encoder, decoder, scale, optimizer, cfg,
                           tf.random.Generator.from_seed(cfg.seed), jit_compile=xla)
    bs = cfg.training.batch_size
    warm = _epoch_images(data.x_train, cfg, 0)[: args.warmup * bs]
    for i in range(0, len(warm), bs):  # tracing and first-call costs, not timed
        step(tf.constant(warm[i : i + bs]))

    t0 = time.perf_counter()
    images = _epoch_images(data.x_train, cfg, 1)  # shuffle + binarize: once per epoch
    prep = time.perf_counter() - t0
    images = images[: args.images]
    sums, losses = np.zeros(3), []
    with OtherLoad() as other:
        t0 = time.perf_counter()
        pending = []
        for n_step, i in enumerate(range(0, len(images), bs)):
            batch = images[i : i + bs]
            if not sync:
                pending.append((step(tf.constant(batch)), len(batch)))
                continue
            values = np.array([v.numpy() for v in step(tf.constant(batch))])
            _check_finite(values, 1, n_step)
            sums += values * len(batch)
            losses.append(values[0])
        for n_step, (out, n) in enumerate(pending):
            values = np.array([v.numpy() for v in out])
            _check_finite(values, 1, n_step)
            sums += values * n
            losses.append(values[0])
        seconds = time.perf_counter() - t0

    eval_gen = tf.random.Generator.from_seed(0)
    eval_step = make_eval_step(encoder, decoder, scale, cfg, eval_gen)
    evaluate_elbo(eval_step, data.x_val[:500], cfg.evaluation.batch_size, 1)  # trace
    eval_gen.reset_from_seed(0)
    t0 = time.perf_counter()
    val = evaluate_elbo(eval_step, data.x_val, cfg.evaluation.batch_size, 1)
    val_seconds = time.perf_counter() - t0
    tail = max(1, len(losses) // 5)
    return {"variant": name, "images": len(images), "steps": len(losses), "seconds": seconds,
            "prep_seconds": prep, "val_seconds": val_seconds, "other_cores": other.cores,
            "train_loss_tail": float(np.mean(losses[-tail:])), "val_neg_elbo": val["neg_elbo"]}


def run_keras_fit(args, cfg, data, name, jit_compile) -> dict:
    """The same model, loss and optimizer trained by keras.Model.fit (train_step override)."""
    import keras
    import tensorflow as tf

    from vaestudy.likelihoods import Scale, elbo_terms
    from vaestudy.train import _epoch_images

    encoder, decoder = build(args, cfg, bf16=False)
    scale = Scale(cfg.likelihood)

    class FitVAE(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.seeds = keras.random.SeedGenerator(cfg.seed)

        def call(self, x):
            return self.decoder(self.encoder(x)[:, : cfg.latent_dim])

        def train_step(self, data):
            x = keras.utils.unpack_x_y_sample_weight(data)[0]
            eps = keras.random.normal([tf.shape(x)[0], cfg.latent_dim], seed=self.seeds)
            with tf.GradientTape() as tape:
                terms = elbo_terms(self.encoder, self.decoder, x, cfg.likelihood.family, eps, scale())
                loss = tf.reduce_mean(terms.neg_elbo)
            variables = self.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return {"neg_elbo": loss}  # not "loss": Keras 3 reports its own tracker there

    model = FitVAE()
    model.compile(optimizer=keras.optimizers.Adam(cfg.training.learning_rate),
                  jit_compile=jit_compile)
    bs = cfg.training.batch_size
    images = _epoch_images(data.x_train, cfg, 1)[: args.images]
    model.fit(images[: args.warmup * bs], batch_size=bs, epochs=1, verbose=0, shuffle=False)
    with OtherLoad() as other:
        t0 = time.perf_counter()
        hist = model.fit(images, batch_size=bs, epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - t0
    return {"variant": name, "images": len(images), "steps": -(-len(images) // bs),
            "seconds": seconds, "prep_seconds": 0.0, "val_seconds": float("nan"),
            "other_cores": other.cores,
            # the last step's loss (a speed reference: no mean over steps)
            "train_loss_tail": float(hist.history["neg_elbo"][-1]), "val_neg_elbo": float("nan"),
            "jit_compile": bool(model.jit_compile) if hasattr(model, "jit_compile") else None}


# --- Report ----------------------------------------------------------------------------------

def main(argv=None) -> int:
    args = parse_args(argv)
    from vaestudy import runtime

    runtime.configure(args.threads, seed=0)  # before TensorFlow runs any op
    import numpy as np
    import tensorflow as tf

    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    if args.determinism == "off":
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()
    import yaml

    from vaestudy.config import run_config
    from vaestudy.jobs import _load_data

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config.setdefault("training", {})["batch_size"] = args.batch
    config.setdefault("data", {})["dir"] = str(ROOT / "resources" / "mnist")
    cfg = run_config(config, args.loss, args.latent, 0)
    data = _load_data(cfg.data, cfg.binarization)
    args.images = min(args.images, len(data.x_train))

    machine = peak_estimate(args.fma_units)
    gemm32 = matmul_rate(tf, tf.float32)
    gemm16 = matmul_rate(tf, tf.bfloat16)
    enc, dec = build(args, cfg, bf16=False)
    layers = model_macs(enc, (28, 28, 1)) + model_macs(dec, (cfg.latent_dim,))
    fwd_flops = 2 * sum(m for _, m in layers)
    train_flops = 3 * fwd_flops  # forward + backward (input and weight gradients = 2x)

    seed1 = run_config(config, args.loss, args.latent, 1)
    plan = [(run_project_loop, cfg, "project step, fp32 (seed 0)", {}),
            (run_project_loop, seed1, "project step, fp32 (seed 1)", {})]
    if args.bf16:
        plan.append((run_project_loop, cfg, "project step, bf16 mixed", {"bf16": True}))
    if args.xla:
        plan.append((run_project_loop, cfg, "same step + XLA, fp32", {"xla": True}))
    if args.nosync:
        plan.append((run_project_loop, cfg, "same step, no per-step sync", {"sync": False}))
    if args.nosync and args.bf16:
        plan.append((run_project_loop, cfg, "bf16 + no per-step sync",
                     {"bf16": True, "sync": False}))
    if not args.no_fit:
        # graph mode, like the project step (Keras 3 declines jit_compile=True for this
        # model: "Model doesn't support jit_compile=True"; XLA is timed on the step above)
        plan.append((run_keras_fit, cfg, "Keras fit, graph", {"jit_compile": False}))
    workflow_epoch = None
    if not args.no_workflow_epoch:
        import dataclasses

        from vaestudy.train import train

        print("timing: vaestudy.train.train, 1 epoch ...", file=sys.stderr, flush=True)
        one = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, epochs=1))
        workflow_epoch = float(train(one, data).history.seconds.iloc[0])
    runs, failed = {}, []
    for rep in range(args.repeats):
        for fn, run_cfg, name, kwargs in plan:
            if any(f.startswith(name + ":") for f in failed):
                continue
            print(f"timing: {name} ({rep + 1}/{args.repeats}) ...", file=sys.stderr, flush=True)
            try:
                runs.setdefault(name, []).append(fn(args, run_cfg, data, name, **kwargs))
            except Exception as exc:  # noqa: BLE001 - a variant that fails here is reported
                failed.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    results = []
    for name, reps in runs.items():
        # the median run by speed among those that no other process disturbed (< 0.25 of a
        # core used by others meanwhile; all runs if none was clean); the range over them
        clean = [r for r in reps if r["other_cores"] < 0.25] or reps
        clean = sorted(clean, key=lambda r: r["seconds"])
        med = dict(clean[len(clean) // 2])
        med["seconds_all"] = [r["seconds"] for r in clean]
        med["clean_runs"] = f"{sum(r['other_cores'] < 0.25 for r in reps)}/{len(reps)}"
        results.append(med)

    layer_rows = {}
    if args.layers:
        for bf16 in (False, True) if args.bf16 else (False,):
            print(f"timing: layers {'bf16' if bf16 else 'fp32'} ...", file=sys.stderr, flush=True)
            layer_rows["bf16" if bf16 else "fp32"] = layer_times(tf, enc, dec, args.latent,
                                                                 args.batch, bf16)

    base = results[0]
    val_s = base["val_seconds"]
    print(f"\nMachine: {machine['model']} ({machine['vendor']}), {machine['cores']} cores; "
          f"TensorFlow {tf.__version__}, {args.threads} thread(s), inter-op "
          f"{tf.config.threading.get_inter_op_parallelism_threads()}, op determinism "
          f"{args.determinism}")
    print(f"fp32 peak estimate: {machine['formula']}")
    used = min(args.threads, machine["cores"])  # the peak of the cores this run uses
    per_cycle = machine["lanes"] * 2 * machine["fma_units"] * used
    print(f"measured 2048x2048 matmul: fp32 {gemm32:.0f} GFLOP/s (= {gemm32 / per_cycle:.2f} "
          f"GHz at {per_cycle:g} FLOP/cycle: the running clock, if above the nominal one), "
          f"bf16 {gemm16:.0f} GFLOP/s (avx512_bf16: {machine['bf16_dot']})")
    print(f"\nModel ({args.loss}, latent {args.latent}, batch {args.batch}): "
          f"{sum(m for _, m in layers) / 1e6:.2f} M MACs/image forward")
    for name, macs in layers:
        print(f"  {name:<55} {macs / 1e6:6.3f} M MACs")
    print(f"  training FLOPs/image = 2 x MACs x 3 (fwd + bwd) = {train_flops / 1e6:.1f} MFLOP; "
          f"{train_flops * EPOCH_IMAGES / 1e12:.2f} TFLOP per epoch")
    print(f"\nTimed {args.images} images per variant ({base['steps']} steps of {args.batch}) "
          f"after {args.warmup} warm-up steps, {args.repeats} time(s) round-robin (median "
          f"shown, of the runs that no other process disturbed); epoch = {EPOCH_IMAGES} images "
          "extrapolated")
    head = (f"{'variant':<30} {'s/epoch':>8} {'+val':>7} {'img/s':>7} {'GFLOP/s':>8} "
            f"{'%peak':>6} {'%sgemm':>6} {'vs fit':>7} {'train loss':>10} {'val -ELBO':>10} "
            f"{'others':>6}" + (" [s/epoch range]" if args.repeats > 1 else ""))
    print(head + "\n" + "-" * len(head))
    fit = next((r for r in results if r["variant"] == "Keras fit, graph"), None)
    for r in results:
        ips = r["images"] / r["seconds"]
        r["epoch_seconds"] = EPOCH_IMAGES / ips + r["prep_seconds"]
        r["epoch_with_val_seconds"] = r["epoch_seconds"] + (
            r["val_seconds"] if np.isfinite(r["val_seconds"]) else val_s)
        r["images_per_second"] = ips
        r["gflops"] = ips * train_flops / 1e9
        r["peak_fraction"] = r["gflops"] / (machine["peak_gflops"] * used / machine["cores"])
        r["sgemm_fraction"] = r["gflops"] / gemm32
        r["fit_ratio"] = (r["epoch_seconds"] / (EPOCH_IMAGES * fit["seconds"] / fit["images"])
                          if fit else float("nan"))
        span = [EPOCH_IMAGES * t / r["images"] + r["prep_seconds"] for t in r["seconds_all"]]
        r["epoch_seconds_range"] = [min(span), max(span)]
        rng = (f" [{min(span):.1f}-{max(span):.1f}, {r['clean_runs']} clean]"
               if args.repeats > 1 else "")
        print(f"{r['variant']:<30} {r['epoch_seconds']:8.1f} {r['epoch_with_val_seconds']:7.1f} "
              f"{ips:7.0f} {r['gflops']:8.1f} {100 * r['peak_fraction']:5.0f}% "
              f"{100 * r['sgemm_fraction']:5.0f}% "
              f"{r['fit_ratio']:7.2f} {r['train_loss_tail']:10.2f} {r['val_neg_elbo']:10.2f} "
              f"{r['other_cores']:6.2f}{rng}")
    if workflow_epoch is not None:
        print(f"{'vaestudy.train.train, 1 epoch':<30} {'':>8} {workflow_epoch:7.1f}   (the "
              "workflow's own loop: its history.csv seconds, training + validation + samples; "
              "includes the first call's tracing)")
    if layer_rows:
        macs = {n.split(" ")[0]: m for n, m in layers}
        step_s = base["seconds"] / base["steps"]
        print(f"\nPer layer alone, forward + backward on a batch of {args.batch} (ms; GFLOP/s "
              f"at 6 FLOP/MAC); project step fp32: {1000 * step_s:.1f} ms")
        kinds = list(layer_rows)
        print(f"{'layer':<36}" + "".join(f" {k + ' ms':>9} {k + ' GF/s':>10}" for k in kinds))
        for i, (name, _) in enumerate(layer_rows[kinds[0]]):
            cells = ""
            for k in kinds:
                sec = layer_rows[k][i][1]
                gf = 6 * macs.get(name, 0) * args.batch / sec / 1e9
                cells += f" {1000 * sec:9.2f} {gf:10.1f}"
            print(f"{name:<36}{cells}")
        for k in kinds:
            total = sum(sec for _, sec in layer_rows[k])
            print(f"  sum of layers {k}: {1000 * total:.1f} ms"
                  + (f" = {total / step_s:.0%} of the fp32 step" if k == "fp32" else ""))
    for line in failed:
        print(f"FAILED {line}")
    print("\ns/epoch: training on 55,000 images incl. the per-epoch shuffle/binarization; +val: "
          f"plus the 5,000-image validation pass ({val_s:.1f} s fp32) as in vaestudy.train. "
          "vs fit: s/epoch divided by Keras fit (graph)'s. train loss: mean negative ELBO "
          "(nats/image) over the last fifth of the timed steps (Keras fit: the last step); "
          "val -ELBO: on the 5,000 validation images after those steps. %peak: of the "
          "estimate above for the cores used; %sgemm: of the measured fp32 matmul rate. others: cores that other "
          "processes used meanwhile (should be ~0 for a clean measurement).")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "gemm_fp32": gemm32,
                                         "gemm_bf16": gemm16, "train_flops": train_flops,
                                         "threads": args.threads, "results": results,
                                         "workflow_epoch_seconds": workflow_epoch},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
