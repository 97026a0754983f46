#!/usr/bin/env python
"""How well a finished study used its cores (a tool, not a test).

Reads every job's Snakemake benchmark file and the exact CPU seconds and peak memory each job
appended to its log (``vaestudy.report.benchmarks``: the same numbers as the report's Reproducibility
section), and, when found, the Snakemake log of the run (``.snakemake/log/*.snakemake.log``:
the threads and declared ``mem_mb`` of each rule, and the run's elapsed time). It prints

- per rule: jobs, threads, wall seconds, CPU seconds, CPU use per thread, peak memory against
  the declared ``mem_mb``,
- the study: sum of job CPU seconds / cores against the time during which jobs ran (ideal:
  equal; target: within 10 %), and the run's elapsed time from the Snakemake log (which also
  holds DAG building and the report job).

  .venv/bin/python tools/study_efficiency.py results --cores 2
  .venv/bin/python tools/study_efficiency.py results --cores 2 --log .snakemake/log/X.log
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vaestudy.report import benchmarks


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, nargs="?", default=Path("results"),
                   help="the study's output_dir (default: results)")
    p.add_argument("--cores", type=int, default=2, help="the run's --cores (default 2)")
    p.add_argument("--log", type=Path,
                   help="the run's Snakemake log (default: the newest one in "
                        "RESULTS/../.snakemake/log that finished every step)")
    return p.parse_args(argv)


def find_log(workdir: Path) -> Path | None:
    """The newest log of a run that finished (its last lines say so)."""
    for log in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"), reverse=True):
        text = log.read_text(errors="replace")
        if "steps (100%) done" in text and "Elapsed time" in text:
            return log
    return None


def parse_log(path: Path) -> tuple[dict[str, int], dict[str, int], float | None]:
    """Threads and mem_mb per rule as Snakemake scheduled them, and the elapsed seconds."""
    threads, mem_mb, rule, elapsed = {}, {}, None, None
    for line in path.read_text(errors="replace").splitlines():
        if m := re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line):
            rule = m.group(1)
        elif rule and (m := re.match(r"^\s+threads: (\d+)$", line)):
            threads[rule] = int(m.group(1))
        elif rule and (m := re.search(r"^\s+resources: .*\bmem_mb=(\d+)", line)):
            mem_mb[rule] = max(mem_mb.get(rule, 0), int(m.group(1)))
        elif m := re.match(r"^Elapsed time: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)",
                           line):
            d, h, mi, s = m.groups()
            elapsed = int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)
    return threads, mem_mb, elapsed


def main(argv=None) -> int:
    args = parse_args(argv)
    results = args.results.resolve()
    log = args.log or find_log(results.parent)
    threads, mem_mb, elapsed = parse_log(log) if log else ({}, {}, None)
    jobs = benchmarks.read_benchmarks(sorted((results / "benchmarks").rglob("*.tsv")))
    if jobs.empty:
        print(f"no benchmark files under {results / 'benchmarks'}", file=sys.stderr)
        return 2
    threads = {rule: min(t, args.cores) for rule, t in threads.items()}
    table = benchmarks.rule_costs(jobs, threads)
    table["mem_mb"] = table.rule.map(mem_mb)
    print(f"Study {results}  (Snakemake log: {log or '-'})\n")
    print(table.to_string(index=False, float_format="{:.2f}".format))
    eff = benchmarks.efficiency(jobs, threads, args.cores)
    ratio = eff["wall_over_ideal"]
    print(f"\n{eff['jobs']} jobs ({eff['exact_jobs']} with exact CPU from their logs): "
          f"{eff['cpu_seconds']:.0f} CPU s; / {args.cores} cores = {eff['ideal_seconds']:.0f} s")
    print(f"jobs running for {eff['wall_seconds']:.0f} s (first start to last end "
          f"{eff['span_seconds']:.0f} s); wall / ideal = {ratio:.3f} -> "
          f"{'within' if ratio <= 1.10 else 'NOT within'} the 10% target; "
          f"occupancy {eff['occupancy']:.1%}")
    if elapsed and elapsed < eff["span_seconds"]:
        print(f"(the Snakemake log {log.name} is of a shorter, later run: pass --log)")
    elif elapsed:
        print(f"Snakemake's elapsed time (with DAG building and the report): {elapsed:.0f} s "
              f"= {elapsed / eff['ideal_seconds']:.3f} x ideal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
