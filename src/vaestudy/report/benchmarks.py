"""What a study cost and how well it used its cores, from Snakemake's benchmark files.

Every rule of the workflow has a ``benchmark:`` file (``RESULTS/benchmarks/<rule>/...tsv``):
the job's wall seconds ``s``, CPU seconds ``cpu_time`` (user + system of the job's process
tree) and peak resident memory ``max_rss`` in MB. Snakemake writes the file when the job
ends, so its modification time is the job's end and ``end - s`` its start. Snakemake samples
``cpu_time`` and ``max_rss`` (every 0.5 s for 15 s, then every 30 s), so they miss up to
30 s of a job's end; every job therefore also appends its exact CPU seconds and peak memory
to its log (``RESULTS/logs/<rule>/...log``, see :func:`vaestudy.jobs.usage.usage_line`), and
those are used where present.

A training job's cost is the work behind its outputs (:func:`vaestudy.jobs.usage.work_line` in
its log): summed over the processes of a run resumed after an interruption, and the original
job's for a job that only restored kept outputs (whose own benchmark says 0.3 s). The
efficiency measure uses what ran in these invocations (``ran_seconds``, ``ran_cpu_seconds``).

The efficiency measure of a local run with ``--cores C``: the ideal wall time is the sum of
the jobs' CPU seconds / C (every core busy with useful work all the time); the measured wall
time is the time during which at least one job ran (the union of the jobs' intervals, so
that a pause between two invocations of ``snakemake`` does not count).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from vaestudy.core import layout
from vaestudy.jobs.usage import USAGE_PREFIX, WORK_PREFIX

USAGE = re.compile(re.escape(USAGE_PREFIX) + r" cpu_seconds=([\d.]+) peak_rss_mb=([\d.]+)")
WORK = re.compile(re.escape(WORK_PREFIX) + r" wall_seconds=([\d.]+) cpu_seconds=([\d.]+) "
                  r"peak_rss_mb=([\d.]+) attempts=(\d+) restored=([01])")


def _log_text(benchmark: Path) -> str:
    """The log that belongs to ``benchmark`` (the same path under ``logs/``), or ''."""
    log = layout.log_of(benchmark)
    return log.read_text(errors="replace") if log.is_file() else ""


def logged_usage(benchmark: Path) -> tuple[float, float] | None:
    """(CPU seconds, peak MB) from the usage line of the log that belongs to ``benchmark``
    (the same path under ``logs/`` instead of ``benchmarks/``), or None."""
    found = USAGE.findall(_log_text(benchmark))
    return (float(found[-1][0]), float(found[-1][1])) if found else None


def logged_work(benchmark: Path) -> dict | None:
    """The work behind a training job's outputs from its log's last work line
    (:func:`vaestudy.jobs.usage.work_line`): wall and CPU seconds, peak MB, attempts and whether
    the job restored them, or None (not a training job, or its outputs came from older code)."""
    found = WORK.findall(_log_text(benchmark))
    if not found:
        return None
    wall, cpu, peak, attempts, restored = found[-1]
    return {"seconds": float(wall), "cpu_seconds": float(cpu), "peak_mb": float(peak),
            "attempts": int(attempts), "restored": restored == "1"}


#: The columns of :func:`read_benchmarks`.
JOB_COLUMNS = ["rule", "job", "seconds", "cpu_seconds", "peak_mb", "cpu_exact", "attempts",
               "restored", "ran_seconds", "ran_cpu_seconds", "start", "end"]


def read_benchmarks(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per job: rule, job (the wildcards part of the path, '' for one-job rules), the
    cost of the work behind its outputs (seconds, cpu_seconds, peak_mb: a training job's
    :func:`logged_work`, else what it ran), cpu_exact (CPU from the job's log, else
    Snakemake's sample), attempts and restored, and what ran in this invocation (ran_seconds,
    ran_cpu_seconds, start and end in epoch seconds)."""
    rows = []
    for path in map(Path, paths):
        _, rule, job = layout.parse_job_file(path)
        last = pd.read_csv(path, sep="\t").iloc[-1]  # one line per repeat; we run one
        end = path.stat().st_mtime
        cpu = pd.to_numeric(last.get("cpu_time"), errors="coerce")
        peak = pd.to_numeric(last.get("max_rss"), errors="coerce")
        exact = logged_usage(path)
        if exact:
            cpu, peak = exact[0], max(exact[1], peak if pd.notna(peak) else 0.0)
        ran = {"seconds": float(last["s"]), "cpu_seconds": cpu, "peak_mb": peak, "attempts": 1,
               "restored": False}
        work = logged_work(path) or ran
        rows.append({"rule": rule, "job": job, **work, "cpu_exact": exact is not None,
                     "ran_seconds": ran["seconds"], "ran_cpu_seconds": cpu,
                     "start": end - ran["seconds"], "end": end})
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def rule_costs(jobs: pd.DataFrame, threads: dict[str, int]) -> pd.DataFrame:
    """Per rule, in order of first start: jobs, threads, wall seconds (sum, max), CPU
    seconds, CPU use per thread (CPU s / (wall s x threads)) and peak memory."""
    frame = jobs.assign(threads=jobs.rule.map(threads).fillna(1).astype(int))
    frame["thread_seconds"] = frame.seconds * frame.threads
    per = frame.groupby("rule", sort=False).agg(
        jobs=("job", "size"), threads=("threads", "max"), seconds=("seconds", "sum"),
        max_seconds=("seconds", "max"), cpu_seconds=("cpu_seconds", "sum"),
        thread_seconds=("thread_seconds", "sum"), peak_mb=("peak_mb", "max"),
        first_start=("start", "min"))
    per["cpu_per_thread"] = per.cpu_seconds / per.thread_seconds
    per = per.sort_values("first_start").drop(columns=["first_start", "thread_seconds"])
    return per.reset_index()


def busy_seconds(jobs: pd.DataFrame) -> float:
    """Length of the union of the jobs' [start, end] intervals: wall time with a job running."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(zip(jobs.start, jobs.end, strict=True)):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def efficiency(jobs: pd.DataFrame, threads: dict[str, int], cores: int | None) -> dict:
    """CPU seconds of the jobs as they ran in these invocations and, for a local run on
    ``cores`` cores, the ideal wall time (CPU / cores), the measured one
    (:func:`busy_seconds`), their ratio (1 = perfect) and the scheduler's occupancy
    (thread-seconds of running jobs / (cores x wall)); and which training jobs restored kept
    outputs or were resumed (``restored``, ``resumed``: their job keys), whose cost in
    :func:`rule_costs` is the work behind their outputs instead."""
    cpu = float(jobs.ran_cpu_seconds.sum())
    out = {"cores": cores, "jobs": len(jobs), "cpu_seconds": cpu,
           "exact_jobs": int(jobs.cpu_exact.sum()),
           "span_seconds": float(jobs.end.max() - jobs.start.min()) if len(jobs) else 0.0,
           "restored": list(jobs.job[jobs.restored.astype(bool)]),
           "resumed": list(jobs.job[~jobs.restored.astype(bool) & (jobs.attempts > 1)])}
    if cores:
        wall = busy_seconds(jobs)
        used = float((jobs.ran_seconds * jobs.rule.map(threads).fillna(1)).sum())
        out |= {"ideal_seconds": cpu / cores, "wall_seconds": wall,
                "wall_over_ideal": wall / (cpu / cores) if cpu else float("nan"),
                "occupancy": used / (cores * wall) if wall else float("nan")}
    return out
