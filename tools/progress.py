#!/usr/bin/env python
"""Where a running or finished study stands: one row per training run (a tool, not a test).

Reads only the files each run writes (config.json, history.csv, train_summary.json,
metrics.json), so it works the same for local and SLURM runs and while the study runs.

  .venv/bin/python tools/progress.py                       # results/
  .venv/bin/python tools/progress.py --config config/config.yaml config/full.yaml
  .venv/bin/python tools/progress.py results-full --config config/full.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vaestudy.jobs.progress import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
