"""Where this machine keeps what does not belong to one study: the trained classifier of a
dataset (:mod:`vaestudy.jobs.machine_cache`) and the batches done of a long log-likelihood
estimate, so that a killed evaluation resumes (:func:`vaestudy.vae.iwae.progress_file`).

``$VAESTUDY_CACHE`` if set (``off`` turns the cache off), else ``$XDG_CACHE_HOME/vaestudy``
or ``~/.cache/vaestudy`` (README, "Changing things").
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that names the cache folder (``off``: no cache).
ENV = "VAESTUDY_CACHE"


def root() -> Path | None:
    """The cache folder of this machine, or None when ``$VAESTUDY_CACHE`` is ``off``."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "no") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vaestudy"
