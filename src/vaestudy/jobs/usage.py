"""What a job's process cost: its exact CPU seconds, peak memory and wall time, and the lines
of its log that say so (read by :mod:`vaestudy.report.benchmarks`).

Why the process measures itself: Snakemake's ``benchmark:`` files sample CPU time and memory
every 30 s after a job's first 15 s, so a job's last seconds (up to 30) are missing from their
``cpu_time``; the report's efficiency plots need the exact number.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from pathlib import Path

#: When this job's process imported its job frame (:mod:`vaestudy.jobs.runtime`, a job
#: script's first lines).
_STARTED = time.monotonic()


#: The start of the line :func:`logged` writes to a job's log (read by vaestudy.report.benchmarks).
USAGE_PREFIX = "job usage:"


def usage() -> dict[str, float]:
    """This process's exact CPU seconds (user + system, all threads, plus waited-for child
    processes), peak resident memory (MB) and wall seconds since it started its job. Why:
    Snakemake's ``benchmark:`` files sample CPU time and memory every 30 s after a job's
    first 15 s, so a job's last seconds (up to 30) are missing from their ``cpu_time``; the
    report's efficiency numbers need the exact number, which only the process itself knows."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu_seconds": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "peak_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024,  # Linux reports KiB
            "wall_seconds": time.monotonic() - _STARTED}


def usage_line() -> str:
    """:func:`usage` as the one parseable line every job ends its log with."""
    now = usage()
    return f"{USAGE_PREFIX} cpu_seconds={now['cpu_seconds']:.2f} peak_rss_mb={now['peak_mb']:.1f}"


#: The start of the line a training job writes with the cost of the work behind its outputs.
WORK_PREFIX = "job work:"


def total_work(attempts: list[dict]) -> dict:
    """The cost of the work behind a training's outputs from the :func:`usage` of each
    process that trained it (a run resumed after an interruption had several): wall and CPU
    seconds summed, the largest peak memory, the number of attempts."""
    return {"attempts": len(attempts),
            "wall_seconds": float(sum(a["wall_seconds"] for a in attempts)),
            "cpu_seconds": float(sum(a["cpu_seconds"] for a in attempts)),
            "peak_mb": float(max((a["peak_mb"] for a in attempts), default=0.0))}


def work_line(work: dict, restored: bool = False) -> str:
    """The line of a training job's log that :mod:`vaestudy.report.benchmarks` reads instead of the job's
    own benchmark: the ``work`` (:func:`total_work`) that produced its outputs, ``restored``
    when this job only put back the outputs of an earlier one (whose work it names)."""
    return (f"{WORK_PREFIX} wall_seconds={work['wall_seconds']:.2f} "
            f"cpu_seconds={work['cpu_seconds']:.2f} peak_rss_mb={work['peak_mb']:.1f} "
            f"attempts={work['attempts']} restored={int(restored)}")


def log_restored_work(summary: str, logger: logging.Logger) -> None:
    """Say in the log of a job that restored kept outputs what the work behind them cost
    (the original job's, in its summary; absent from summaries of older code)."""
    work = json.loads(Path(summary).read_text()).get("work")
    if work:
        logger.info(work_line(work, restored=True))
