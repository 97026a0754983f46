"""The study-level jobs (tables, plots, report) run without TensorFlow: ~0.7 GB and seconds of
start-up each would otherwise go to a framework they do not use."""

import subprocess
import sys

HEAVY = ("tensorflow", "tensorflow_probability", "keras", "tf_keras")


def test_study_level_modules_do_not_import_tensorflow():
    code = ("import sys; import vaestudy.jobs.training_run, vaestudy.analysis.aggregate, vaestudy.analysis.stats, "
            "vaestudy.analysis.study_plots, vaestudy.analysis.findings, vaestudy.report.report, vaestudy.report.benchmarks, "
            "vaestudy.report.mathdoc, vaestudy.jobs.progress, vaestudy.core.atomic, vaestudy.core.provenance, "
            "vaestudy.core.layout; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
