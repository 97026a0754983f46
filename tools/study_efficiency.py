#!/usr/bin/env python
"""How well a finished study used its cores (a tool, not a test).

Reads the study's Snakemake benchmark files (``RESULTS/benchmarks/**/*.tsv``: wall seconds
``s``, ``cpu_time``, ``max_rss`` of each benchmarked job) and the Snakemake log of the run
(``.snakemake/log/*.snakemake.log``: every job's rule, threads, declared mem_mb, start and
finish, and the run's elapsed time), and prints

- per rule: jobs, threads, seconds (from the log), CPU seconds and CPU use per thread, peak
  memory (max_rss) against the declared mem_mb (from the benchmarks),
- the study: sum of job CPU seconds / cores against the wall time (ideal: equal; target:
  wall within 10 % of it), and how much of cores x wall the scheduler kept busy.

Jobs without a benchmark file count with their wall seconds x threads (an upper bound on
their CPU seconds).

  .venv/bin/python tools/study_efficiency.py results --cores 2
  .venv/bin/python tools/study_efficiency.py results --cores 2 --wall 1325
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pandas as pd

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, nargs="?", default=Path("results"),
                   help="the study's output_dir (default: results)")
    p.add_argument("--cores", type=int, default=2, help="the run's --cores (default 2)")
    p.add_argument("--wall", type=float, help="the run's wall seconds (default: from the log)")
    p.add_argument("--log", type=Path,
                   help="the run's Snakemake log (default: the newest complete one in "
                        "WORKDIR/.snakemake/log)")
    p.add_argument("--workdir", type=Path,
                   help="the directory Snakemake ran in (default: RESULTS/..)")
    return p.parse_args(argv)


def find_log(workdir: Path) -> Path | None:
    """The newest log of a run that finished (its last lines say so)."""
    for log in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"), reverse=True):
        text = log.read_text(errors="replace")
        if "steps (100%) done" in text and "Elapsed time" in text:
            return log
    return None


def parse_log(path: Path) -> tuple[pd.DataFrame, float | None]:
    """One row per job (jobid, rule, threads, mem_mb, start, end) and the elapsed seconds."""
    jobs: dict[int, dict] = {}
    stamp, current = None, None
    elapsed = None
    for line in path.read_text(errors="replace").splitlines():
        m = STAMP.match(line.strip())
        if m:
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            current = None
            continue
        if m := re.match(r"^(local)?(rule|checkpoint) (\w+):$", line):
            current = {"rule": m.group(3), "start": stamp, "threads": 1, "mem_mb": None}
            continue
        if current is not None:
            if m := re.match(r"^\s+jobid: (\d+)$", line):
                jobs[int(m.group(1))] = current
            elif m := re.match(r"^\s+threads: (\d+)$", line):
                current["threads"] = int(m.group(1))
            elif m := re.search(r"^\s+resources: .*\bmem_mb=(\d+)", line):
                current["mem_mb"] = int(m.group(1))
        if (m := re.match(r"^Finished jobid: (\d+)", line)) and int(m.group(1)) in jobs:
            jobs[int(m.group(1))]["end"] = stamp
        if m := re.match(r"^Elapsed time: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)", line):
            d, h, mi, s = m.groups()
            elapsed = int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)
    df = pd.DataFrame([{"jobid": k, **v} for k, v in jobs.items()])
    if not df.empty:
        df = df.dropna(subset=["end"])
        df["seconds"] = (df.end - df.start).dt.total_seconds()
    return df, elapsed


def read_benchmarks(results: Path) -> pd.DataFrame:
    rows = []
    root = results / "benchmarks"
    for tsv in sorted(root.rglob("*.tsv")):
        rel = tsv.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else tsv.stem
        b = pd.read_csv(tsv, sep="\t")
        for _, r in b.iterrows():
            rows.append({"rule": rule, "job": str(rel.with_suffix("")), "s": float(r["s"]),
                         "cpu_time": float(r["cpu_time"]), "max_rss": float(r["max_rss"])})
    return pd.DataFrame(rows, columns=["rule", "job", "s", "cpu_time", "max_rss"])


def busy_fraction(jobs: pd.DataFrame, cores: int) -> float:
    """Share of cores x (first start .. last end) that running jobs' threads covered."""
    if jobs.empty:
        return float("nan")
    t0, t1 = jobs.start.min(), jobs.end.max()
    span = (t1 - t0).total_seconds()
    used = (jobs.seconds * jobs.threads.clip(upper=cores)).sum()
    return used / (cores * span) if span > 0 else float("nan")


def main(argv=None) -> int:
    args = parse_args(argv)
    results = args.results.resolve()
    workdir = (args.workdir or results.parent).resolve()
    log = args.log or find_log(workdir)
    jobs, elapsed = parse_log(log) if log else (pd.DataFrame(), None)
    bench = read_benchmarks(results)
    wall = args.wall or elapsed
    if wall is None:
        print("no wall time: pass --wall SECONDS or --log PATH", file=sys.stderr)
        return 2

    per_rule = defaultdict(dict)
    if not jobs.empty:
        for rule, g in jobs.groupby("rule"):
            per_rule[rule].update(jobs=len(g), threads=int(g.threads.max()),
                                  wall_sum=g.seconds.sum(), wall_max=g.seconds.max(),
                                  mem_mb=g.mem_mb.max(), core_s=(g.seconds * g.threads).sum())
    for rule, g in bench.groupby("rule"):
        per_rule[rule].update(bench_jobs=len(g), s_sum=g.s.sum(), cpu=g.cpu_time.sum(),
                              rss=g.max_rss.max())
        per_rule[rule].setdefault("jobs", len(g))
        per_rule[rule].setdefault("threads", 1)
        per_rule[rule].setdefault("wall_sum", g.s.sum())
        per_rule[rule].setdefault("wall_max", g.s.max())

    print(f"Study {results}  (log: {log or '-'})")
    head = (f"{'rule':<18} {'jobs':>4} {'thr':>3} {'s total':>8} {'s max':>7} {'CPU s':>8} "
            f"{'CPU/thr':>7} {'peak MB':>8} {'mem_mb':>7}")
    print(head + "\n" + "-" * len(head))
    total_cpu = 0.0
    for rule, r in sorted(per_rule.items(), key=lambda kv: -kv[1].get("wall_sum", 0)):
        if rule == "all":
            continue
        if "cpu" in r:
            cpu = r["cpu"]
            util = cpu / (r["s_sum"] * r["threads"]) if r["s_sum"] else float("nan")
            cpu_txt, util_txt, rss = f"{cpu:8.0f}", f"{util:7.0%}", f"{r['rss']:8.0f}"
        else:  # no benchmark: wall x threads, an upper bound
            cpu = r.get("core_s", r["wall_sum"] * r["threads"])
            cpu_txt, util_txt, rss = f"{'≤' + format(cpu, '.0f'):>8}", f"{'-':>7}", f"{'-':>8}"
        total_cpu += cpu
        mem = r.get("mem_mb")
        mem_txt = f"{mem:7.0f}" if pd.notna(mem) else f"{'-':>7}"
        print(f"{rule:<18} {r['jobs']:>4} {r['threads']:>3} {r['wall_sum']:8.0f} "
              f"{r['wall_max']:7.0f} {cpu_txt} {util_txt} {rss} {mem_txt}")

    ideal = total_cpu / args.cores
    print(f"\nsum of job CPU seconds: {total_cpu:.0f} s (benchmarked jobs: "
          f"{bench.cpu_time.sum():.0f} s CPU in {bench.s.sum():.0f} s)")
    print(f"sum(CPU) / {args.cores} cores = {ideal:.0f} s; wall = {wall:.0f} s "
          f"({'given' if args.wall else 'from the log'})")
    ratio = wall / ideal if ideal else float("nan")
    verdict = "within" if ratio <= 1.10 else "NOT within"
    print(f"wall / (sum(CPU)/cores) = {ratio:.3f} -> {verdict} the 10% target "
          f"({100 * (1 - 1 / ratio):.1f}% of cores x wall idle or waiting)")
    if not jobs.empty:
        print(f"scheduler occupancy (threads of running jobs / cores, first start to last end): "
              f"{busy_fraction(jobs, args.cores):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
