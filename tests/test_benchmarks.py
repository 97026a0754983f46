"""Cost tables and the study-efficiency measure from Snakemake benchmark files and the
exact usage line every job appends to its log."""

import os
import subprocess
import sys

import pandas as pd
import pytest

from vaestudy.jobs.usage import usage_line
from vaestudy.report import benchmarks

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(root, rel, seconds, cpu, rss, end):
    path = root / "benchmarks" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t{rss}\t0\t0\t0\t0\t0\t90\t{cpu}\n")
    os.utime(path, (end, end))
    return path


@pytest.fixture
def jobs(tmp_path):
    """Two cores: data 0-10 s, two trainings side by side 10-110 s, a pause, a report
    step 200-210 s (as if resumed by a second snakemake call)."""
    paths = [_bench(tmp_path, "prepare_data.tsv", 10, 8, 500, 1010),
             _bench(tmp_path, "train/dataset~mnist/epochs~2/loss~bce/latent~2/seed~0.tsv", 100, 90, 1500,
                    1110),
             _bench(tmp_path, "train/dataset~mnist/epochs~2/loss~mse/latent~2/seed~0.tsv", 100, 95, 1600,
                    1110),
             _bench(tmp_path, "plots.tsv", 10, 7, 800, 1210)]
    log = tmp_path / "logs" / "train" / "dataset~mnist" / "epochs~2" / "loss~mse" / "latent~2" / "seed~0.log"
    log.parent.mkdir(parents=True)
    log.write_text("2026 INFO epoch 1\n" + usage_line().split(" cpu")[0] +
                   " cpu_seconds=99.50 peak_rss_mb=2100.0\n")
    return benchmarks.read_benchmarks(paths)


def test_benchmark_files_become_one_row_per_job(jobs):
    assert list(jobs.rule) == ["prepare_data", "train", "train", "plots"]
    assert list(jobs.job) == ["", "dataset~mnist/epochs~2/loss~bce/latent~2/seed~0",
                             "dataset~mnist/epochs~2/loss~mse/latent~2/seed~0", ""]
    assert jobs.start.tolist() == pytest.approx([1000, 1010, 1010, 1200])
    # The mse job's log has the exact usage line: it replaces Snakemake's sampled numbers.
    assert jobs.cpu_exact.tolist() == [False, False, True, False]
    assert jobs.cpu_seconds.tolist() == pytest.approx([8, 90, 99.5, 7])
    assert jobs.peak_mb.max() == 2100


def test_a_job_logs_its_exact_usage_when_it_ends_failed_or_not(tmp_path):
    for fails in (False, True):
        log = tmp_path / f"job{fails}.log"
        code = ("from vaestudy.jobs.runtime import logged\n"
                f"with logged({str(log)!r}) as logger:\n"
                "    logger.info('first line')\n"
                "    sum(i * i for i in range(3_000_000))\n"
                f"    assert not {fails}, 'planted failure'\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True)
        assert done.returncode == (1 if fails else 0)
        text = log.read_text()
        assert "first line" in text and ("planted failure" in text) == fails
        cpu, peak = benchmarks.USAGE.search(text.splitlines()[-1]).groups()
        assert 0.05 < float(cpu) < 30 and 5 < float(peak) < 2000


def test_a_restored_or_resumed_training_costs_the_work_behind_its_outputs(tmp_path):
    """A job that only restored kept outputs ran 0.31 s; its cost is the original job's 38.5 s
    (its log's work line), a resumed one's the sum of its attempts; the efficiency measure
    keeps what ran."""
    from vaestudy.jobs.usage import work_line

    work = {"attempts": 1, "wall_seconds": 38.5, "cpu_seconds": 37.0, "peak_mb": 1900.0}
    keys = ["dataset~mnist/epochs~2/loss~bce/latent~2/seed~0",
            "dataset~mnist/epochs~2/loss~bce/latent~2/seed~1"]
    paths = [_bench(tmp_path, f"train/{key}.tsv", 0.31, 0.26, 300, 1000 + i)
             for i, key in enumerate(keys)]
    for key, line in zip(keys, [work_line(work, restored=True),
                                work_line({**work, "attempts": 2, "wall_seconds": 60.0})]):
        log = tmp_path / "logs" / "train" / f"{key}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"2026 INFO restored\n2026 INFO {line}\n{usage_line()}\n")
    jobs = benchmarks.read_benchmarks(paths)
    assert jobs.seconds.tolist() == [38.5, 60.0] and jobs.cpu_seconds.tolist() == [37.0, 37.0]
    assert jobs.restored.tolist() == [True, False] and jobs.attempts.tolist() == [1, 2]
    assert jobs.ran_seconds.tolist() == [0.31, 0.31]
    table = benchmarks.rule_costs(jobs, {"train": 1})
    assert table.seconds.iloc[0] == 98.5 and table.max_seconds.iloc[0] == 60.0
    eff = benchmarks.efficiency(jobs, {"train": 1}, cores=2)
    assert eff["restored"] == keys[:1] and eff["resumed"] == keys[1:]
    assert eff["wall_seconds"] == pytest.approx(0.62)  # what ran: two jobs of 0.31 s


def test_rule_costs_sum_jobs_and_measure_cpu_per_thread(jobs):
    table = benchmarks.rule_costs(jobs, {"train": 1, "prepare_data": 1, "plots": 1}).set_index("rule")
    assert list(table.index) == ["prepare_data", "train", "plots"]  # order of first start
    train = table.loc["train"]
    assert (train.jobs, train.seconds, train.max_seconds, train.peak_mb) == (2, 200, 100, 2100)
    assert train.cpu_per_thread == pytest.approx(189.5 / 200)


def test_busy_time_skips_pauses_and_counts_overlaps_once(jobs):
    assert benchmarks.busy_seconds(jobs) == pytest.approx(10 + 100 + 10)
    nested = pd.DataFrame({"start": [0, 2, 20], "end": [10, 5, 25]})
    assert benchmarks.busy_seconds(nested) == pytest.approx(15)


def test_efficiency_compares_wall_with_cpu_over_cores(jobs):
    eff = benchmarks.efficiency(jobs, {"train": 1}, cores=2)
    assert eff["ideal_seconds"] == pytest.approx(204.5 / 2)
    assert eff["wall_seconds"] == pytest.approx(120)
    assert eff["wall_over_ideal"] == pytest.approx(120 / 102.25)
    assert eff["exact_jobs"] == 1
    assert eff["span_seconds"] == pytest.approx(210)
    assert eff["occupancy"] == pytest.approx(220 / (2 * 120))
    cluster = benchmarks.efficiency(jobs, {}, cores=None)
    assert cluster["cpu_seconds"] == pytest.approx(204.5) and "wall_over_ideal" not in cluster
