#!/usr/bin/env python
"""What loading the data and binarizing an epoch cost a job, with NumPy's huge-page advice on
and off (a tool, not a test).

Every job that reads the data (train, evaluate, run_pictures, the classifier) loads the whole
split through ``vaestudy.core.data.load_split`` (55,000 training images as float32: 172 MB),
and every training epoch binarizes a shuffled copy of them. Where the kernel defragments
memory for pages advised as huge (``/sys/kernel/mm/transparent_hugepage/defrag`` =
``madvise``), NumPy's advice on large arrays turns their first touch into system time.
Prints, for each setting of ``NUMPY_MADVISE_HUGEPAGE`` (each in a fresh process, as the
setting is read when NumPy is imported), the user and system CPU seconds of one
``load_split`` and of ``--epochs`` epochs of the training loop's binarization, the best of
``--repeats`` processes, beside the CPU and the kernel's settings.

  .venv/bin/python tools/data_benchmark.py
  .venv/bin/python tools/data_benchmark.py --binarization dynamic --epochs 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: One measurement, run in a fresh process with the setting in its environment.
CHILD = """
import json, resource, sys
from types import SimpleNamespace
sys.path.insert(0, {src!r})
import numpy as np
from vaestudy.core.data import load_split
from vaestudy.vae.train import epoch_images

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime

t0 = cpu()
split = load_split({data!r}, 5000, 0, {binarization!r}, 1)
t1 = cpu()
run = SimpleNamespace(seed=0, binarization={binarization!r})  # what epoch_images reads
for epoch in range(1, {epochs} + 1):
    epoch_images(split.x_train, run, epoch)
t2 = cpu()
print(json.dumps({{"load_user": t1[0] - t0[0], "load_sys": t1[1] - t0[1],
                  "epochs_user": t2[0] - t1[0], "epochs_sys": t2[1] - t1[1]}}))
"""


def _kernel_setting(name: str) -> str:
    path = Path("/sys/kernel/mm/transparent_hugepage") / name
    return path.read_text().strip() if path.exists() else "n/a"


def _cpu_name() -> str:
    """The CPU's model name and its widest vector extension (from /proc/cpuinfo)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), platform.processor() or "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines()
                  if line.startswith("flags")), [])
    widest = next((f for f in ("avx512f", "avx2", "avx") if f in flags), "no AVX")
    return f"{name} ({widest}, {os.cpu_count()} cores)"


def measure(advise: str, args: argparse.Namespace) -> dict:
    """The best (least total CPU) of ``args.repeats`` child processes with the setting."""
    code = CHILD.format(src=str(ROOT / "src"), data=str(args.data), epochs=args.epochs,
                        binarization=args.binarization)
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": advise}
    runs = []
    for _ in range(args.repeats):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: sum(r.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "resources" / "mnist")
    parser.add_argument("--binarization", default="dynamic")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"CPU: {_cpu_name()}; transparent huge pages: enabled {_kernel_setting('enabled')}, "
          f"defrag {_kernel_setting('defrag')}")
    print(f"{'NUMPY_MADVISE_HUGEPAGE':>22} | load user s | load sys s | "
          f"{args.epochs} epochs user s | {args.epochs} epochs sys s")
    for advise in ("1", "0"):
        r = measure(advise, args)
        print(f"{advise:>22} | {r['load_user']:11.2f} | {r['load_sys']:10.2f} | "
              f"{r['epochs_user']:14.2f} | {r['epochs_sys']:13.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
