"""What a study cost and how well it used its cores, from Snakemake's benchmark files.

Every rule of the workflow has a ``benchmark:`` file (``RESULTS/benchmarks/<rule>/...tsv``):
the job's wall seconds ``s``, CPU seconds ``cpu_time`` (user + system of the job's process
tree) and peak resident memory ``max_rss`` in MB. Snakemake writes the file when the job
ends, so its modification time is the job's end and ``end - s`` its start. Snakemake samples
``cpu_time`` and ``max_rss`` (every 0.5 s for 15 s, then every 30 s), so they miss up to
30 s of a job's end; every job therefore also appends its exact CPU seconds and peak memory
to its log (``RESULTS/logs/<rule>/...log``, see :func:`vaestudy.runtime.usage_line`), and
those are used where present.

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

from vaestudy import layout
from vaestudy.runtime import USAGE_PREFIX

USAGE = re.compile(re.escape(USAGE_PREFIX) + r" cpu_seconds=([\d.]+) peak_rss_mb=([\d.]+)")


def logged_usage(benchmark: Path) -> tuple[float, float] | None:
    """(CPU seconds, peak MB) from the usage line of the log that belongs to ``benchmark``
    (the same path under ``logs/`` instead of ``benchmarks/``), or None."""
    log = layout.log_of(benchmark)
    found = USAGE.findall(log.read_text(errors="replace")) if log.is_file() else []
    return (float(found[-1][0]), float(found[-1][1])) if found else None


def read_benchmarks(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per job: rule, job (the wildcards part of the path, '' for one-job rules),
    seconds, cpu_seconds, peak_mb, cpu_exact (from the job's log, else Snakemake's sample),
    start and end (epoch seconds)."""
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
        rows.append({"rule": rule, "job": job, "seconds": float(last["s"]), "cpu_seconds": cpu,
                     "peak_mb": peak, "cpu_exact": exact is not None,
                     "start": end - float(last["s"]), "end": end})
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "cpu_seconds", "peak_mb",
                                       "cpu_exact", "start", "end"])


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
    """CPU seconds of all jobs and, for a local run on ``cores`` cores, the ideal wall time
    (CPU / cores), the measured one (:func:`busy_seconds`), their ratio (1 = perfect) and the
    scheduler's occupancy (thread-seconds of running jobs / (cores x wall))."""
    cpu = float(jobs.cpu_seconds.sum())
    out = {"cores": cores, "jobs": len(jobs), "cpu_seconds": cpu,
           "exact_jobs": int(jobs.cpu_exact.sum()),
           "span_seconds": float(jobs.end.max() - jobs.start.min()) if len(jobs) else 0.0}
    if cores:
        wall = busy_seconds(jobs)
        used = float((jobs.seconds * jobs.rule.map(threads).fillna(1)).sum())
        out |= {"ideal_seconds": cpu / cores, "wall_seconds": wall,
                "wall_over_ideal": wall / (cpu / cores) if cpu else float("nan"),
                "occupancy": used / (cores * wall) if wall else float("nan")}
    return out
