"""Mutation testing of the study's core: plant one small bug at a time and check that the unit
tests notice.

Each mutant changes one operator, comparison, number, boolean operator or unary minus in one
core module (an AST rewrite of a copy of ``src/``), then runs that module's unit tests in a
fresh process with the copy first on the path. A mutant the tests fail on is *killed*; one
they pass is a *survivor*: either a missing test or a change that cannot matter (an
*equivalent* mutant, listed in docs/testing.md with why). Prints the score per module and
every survivor as ``file:line  original -> mutant``.

    python tools/mutate.py                 # every core module (make mutate)
    python tools/mutate.py iwae latent_code  # some of them
    python tools/mutate.py --jobs 1        # one mutant at a time (beside other work)
    python tools/mutate.py --list          # the mutants, without running them

Why not mutmut: mutmut 3 runs each mutant in a fork of a process that has imported the tests'
TensorFlow, whose thread pools do not survive a fork; mutmut 2 also mutates every string
(error messages) and docstring-free line alike. This tool mutates only what computes.
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Core module -> the unit tests that exercise it (fast ones: no Snakemake runs).
#: The modules that compute or word the study's numbers: likelihoods and losses, the model,
#: the training loop and its checkpoints, the log-likelihood estimator, the test-set
#: evaluation, the latent metrics, the classifier of the sample metrics, the statistics, what
#: carries over from one dataset to another and the findings' sentences; the data (registry,
#: split, subsets, binarization), the pictured test images and the kept finished outputs.
CORE = {
    "losses": ["tests/test_config.py", "tests/test_model.py", "tests/test_study_plots.py",
               "tests/test_levels.py"],
    "likelihoods": ["tests/test_model.py", "tests/test_theory.py", "tests/test_train.py",
                    "tests/test_levels.py"],
    "model": ["tests/test_model.py", "tests/test_theory.py"],
    "train": ["tests/test_train.py",
              "tests/test_resume.py::test_interrupted_run_resumes_bit_identically"],
    "checkpoint": ["tests/test_checkpoint.py",
                   "tests/test_train.py::"
                   "test_full_disk_while_checkpointing_names_the_file_and_keeps_the_last_one",
                   "tests/test_resume.py::test_interrupted_run_resumes_bit_identically",
                   "tests/test_resume.py::test_checkpoint_of_another_config_is_not_resumed"],
    "iwae": ["tests/test_iwae.py", "tests/test_levels.py"],
    "evaluate": ["tests/test_evaluate.py", "tests/test_levels.py"],
    "latent_code": ["tests/test_metrics.py"],
    "classifier": ["tests/test_metrics.py", "tests/test_classifier.py"],
    "stats": ["tests/test_metrics.py", "tests/test_across.py", "tests/test_stats.py"],
    "across": ["tests/test_across.py", "tests/test_stats.py"],
    "findings": ["tests/test_findings.py", "tests/test_metrics.py", "tests/test_stats.py"],
    "datasets": ["tests/test_datasets.py", "tests/test_data.py"],
    "fetch": ["tests/test_datasets.py", "tests/test_preflight.py"],
    "data": ["tests/test_data.py", "tests/test_pictured.py"],
    "pictured": ["tests/test_pictured.py"],
    "kept_outputs": ["tests/test_kept_outputs.py"],
}
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.Pow: ast.Mult, ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv,
         ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
         ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And,
         ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def _is_docstring(node: ast.AST, parents: dict) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant)


def sites(tree: ast.Module) -> list[tuple[ast.AST, str, callable]]:
    """Every mutation site of a module: (node, description, function mutating a copy)."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        op = getattr(node, "op", None)
        if isinstance(node, (ast.BinOp, ast.BoolOp, ast.AugAssign)) and type(op) in SWAPS:
            new = SWAPS[type(op)]
            out.append((node, f"{type(op).__name__} -> {new.__name__}",
                        lambda n, new=new: setattr(n, "op", new())))
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    new = SWAPS[type(op)]
                    out.append((node, f"{type(op).__name__} -> {new.__name__}",
                                lambda n, i=i, new=new: n.ops.__setitem__(i, new())))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            out.append((node, f"drop {type(node.op).__name__}",
                        lambda n: setattr(n, "op", ast.UAdd())))
        if (isinstance(node, ast.Constant) and type(node.value) in (int, float)
                and not _is_docstring(node, parents)):
            new = node.value + 1 if node.value in (0, 1) or isinstance(node.value, int) \
                else node.value * 2
            out.append((node, f"{node.value!r} -> {new!r}",
                        lambda n, new=new: setattr(n, "value", new)))
    return out


def relative(module: str) -> Path:
    """``vaestudy/<stage>/<module>.py``: where a core module sits below ``src/``."""
    found = sorted((ROOT / "src").glob(f"vaestudy/*/{module}.py"))
    if len(found) != 1:
        raise SystemExit(f"no single module {module!r} in src/vaestudy/<stage>/: {found}")
    return found[0].relative_to(ROOT / "src")


def mutants(module: str) -> list[tuple[int, str, str]]:
    """(line, description, mutated source) of every mutant of ``module``
    (``src/vaestudy/<stage>/<module>.py``)."""
    source = (ROOT / "src" / relative(module)).read_text()
    tree = ast.parse(source)
    out = []
    for index, (node, what, _) in enumerate(sites(tree)):
        fresh = ast.parse(source)
        target, _what, mutate = sites(fresh)[index]
        mutate(target)
        out.append((node.lineno, what, ast.unparse(fresh)))
    return out


def run_tests(src_copy: Path, tests: list[str], timeout: int) -> bool:
    """True if the tests pass against the copy (the mutant survives)."""
    env = {**os.environ, "PYTHONPATH": str(src_copy), "PYTHONDONTWRITEBYTECODE": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False  # a mutant that hangs is caught (it would not pass CI)
    return done.returncode == 0


def _run_module(module: str, workers: queue.Queue, timeout: int) -> tuple[int, list[str]]:
    """Run every mutant of ``module`` on the free src copies in ``workers``; returns the
    number killed and the survivors."""
    found = mutants(module)

    def one(mutant: tuple[int, str, str]) -> str | None:
        line, what, text = mutant
        src = workers.get()
        path = src / relative(module)
        original = path.read_text()
        try:
            path.write_text(text)
            survived = run_tests(src, CORE[module], timeout)
        finally:
            path.write_text(original)
            workers.put(src)
        return f"src/{relative(module)}:{line}  {what}" if survived else None

    with ThreadPoolExecutor(workers.qsize()) as pool:
        survivors = [s for s in pool.map(one, found) if s]
    return len(found) - len(survivors), survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(CORE)} (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--timeout", type=int, default=600,
                        help="longest seconds per mutant (else 3x the clean run)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(CORE))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; the core modules are {list(CORE)}")
    modules = args.modules or list(CORE)
    if args.list:
        for module in modules:
            for line, what, _ in mutants(module):
                print(f"src/{relative(module)}:{line}  {what}")
        return 0
    total = killed = 0
    survivors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        workers: queue.Queue = queue.Queue()
        for i in range(args.jobs):  # one copy of src per worker: mutants never meet
            shutil.copytree(ROOT / "src", Path(tmp) / f"src{i}")
            workers.put(Path(tmp) / f"src{i}")
        for module in modules:
            t0 = time.perf_counter()
            if not run_tests(Path(tmp) / "src0", CORE[module], args.timeout):
                print(f"{module}: the tests fail without any mutant; fix them first")
                return 2
            # a mutant that makes a loop endless is caught by the timeout: 3x a clean run
            timeout = min(args.timeout, max(60, int(3 * (time.perf_counter() - t0))))
            t0 = time.perf_counter()
            dead, alive = _run_module(module, workers, timeout)
            n = dead + len(alive)
            total, killed, survivors = total + n, killed + dead, survivors + alive
            print(f"{module}: {dead}/{n} killed ({time.perf_counter() - t0:.0f} s)",
                  *alive, sep="\n  ", flush=True)  # a module's survivors as soon as it ends
    print(f"\nmutation score: {killed}/{total} = {100 * killed / max(total, 1):.1f}% killed")
    print("survivors:" if survivors else "no survivors", *survivors, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
