"""Write the conda environment files from requirements.txt, the one home of the pins.

``environment.yml`` (an interactive conda environment) gets every pin; the rules' environment
``workflow/envs/vae.yaml`` (``snakemake --sdm conda``) gets the pins above the
``# --- running`` line, the packages the jobs import.

    python tools/envfiles.py           # (re)write both files (make envs)
    python tools/envfiles.py --check   # exit 1 naming the stale files (tests/test_environment.py)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"  # the conda environments' Python (pyproject allows 3.10-3.13)
TOOLS_MARK = "# --- running"  # the line after which requirements.txt lists workflow tools
PIN = re.compile(r"([A-Za-z0-9_.\-\[\]]+)==([\w.+\-]+)")

HEADERS = {
    "environment.yml": (
        "# Conda environment for working with the study interactively:\n"
        "#   conda env create -f environment.yml && conda activate vae-study && "
        "pip install --no-deps -e .\n"
        "name: vae-study\n"),
    "workflow/envs/vae.yaml": (
        "# Conda environment of every rule, for `snakemake --sdm conda` (GPU users: see "
        "docs/clusters.md).\n"),
}


def read_pins(text: str) -> tuple[list[str], list[str]]:
    """The ``name==version`` lines of requirements.txt: (the jobs' packages, the tools).
    Anything that is neither a pin, a comment nor blank is an error."""
    jobs, tools = [], []
    part = jobs
    for line in text.splitlines():
        if line.startswith(TOOLS_MARK):
            part = tools
        line = line.split("#")[0].strip()
        if line:
            if not PIN.fullmatch(line):
                raise ValueError(f"requirements.txt: not an exact pin: {line!r} "
                                 f"(write name==version)")
            part.append(line)
    return jobs, tools


def render(path: str, pins: list[str]) -> str:
    """The text of one generated conda file."""
    lines = ["# GENERATED from requirements.txt by tools/envfiles.py: edit that file, then "
             "`make envs`.\n", HEADERS[path], "channels:\n  - conda-forge\n  - nodefaults\n",
             f"dependencies:\n  - python={PYTHON}\n  - pip\n  - pip:\n"]
    lines += [f"      - {pin}\n" for pin in pins]
    return "".join(lines)


def expected(root: Path = ROOT) -> dict[str, str]:
    """{path: text} of the files requirements.txt generates."""
    jobs, tools = read_pins((root / "requirements.txt").read_text())
    return {"environment.yml": render("environment.yml", jobs + tools),
            "workflow/envs/vae.yaml": render("workflow/envs/vae.yaml", jobs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = [p for p, text in expected().items()
             if not (ROOT / p).exists() or (ROOT / p).read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date with requirements.txt: run `make envs`")
        return 1 if stale else 0
    for path, text in expected().items():
        (ROOT / path).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
