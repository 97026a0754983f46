"""The SLURM profiles on a real (one-node) SLURM: tools/slurm-test-cluster.sh builds the
cluster, runs the tiny study with profiles/slurm and one run with profiles/slurm-gpu, checks
that every job went through sbatch and stops the daemons. Slow (minutes) and root-only:
`pytest -m slow tests/test_slurm.py`."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "slurm-test-cluster.sh"


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                    reason="builds a SLURM cluster: needs root")
def test_study_runs_through_sbatch_on_a_one_node_slurm(tmp_path):
    env = {**os.environ, "SLURM_TEST_DIR": str(tmp_path / "cluster")}
    result = subprocess.run(["bash", str(SCRIPT)], check=False, env=env, capture_output=True, text=True,
                            timeout=3600)
    output = result.stdout + result.stderr
    if result.returncode == 77:
        pytest.skip(next((line for line in output.splitlines() if "SKIP:" in line), output[-300:]))
    assert result.returncode == 0, output[-6000:]
    assert "[audit cpu]" in output and "[audit gpu]" in output, output[-3000:]
    assert "PASS: every job went through sbatch" in output
