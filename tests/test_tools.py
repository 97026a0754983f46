"""The tools run: the benchmark times the package's own training (a broken import or a
renamed function in the package fails here, not in a user's hands)."""

import json
import subprocess
import sys


def test_benchmark_times_the_packages_training(root, tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(root / "tools" / "benchmark.py"), "--threads", "1", "--images",
         "512", "--batch", "128", "--no-fit", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "vaestudy.train.train, fp32" in done.stdout
    result = json.loads(out.read_text())["results"][0]
    assert result["step_seconds"] > 0 and result["images_per_s"] > 0
    assert result["val_neg_elbo"] > 0 and result["epoch_seconds"] > 3 * result["step_seconds"]
