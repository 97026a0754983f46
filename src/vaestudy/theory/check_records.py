"""The records of the numerical checks (:mod:`vaestudy.theory.theory`,
:mod:`vaestudy.theory.theory_data`, :mod:`vaestudy.theory.theory_estimator`): ``{identity,
max_abs_error, tolerance, passed}``, and how errors are accumulated into them.

Why a module of its own: the check modules build records the same way, and NaN must fail a
record wherever it appears. Python's ``max(0.0, nan)`` is ``0.0`` (a comparison with NaN is
False), so an error accumulated with ``max`` would pass on NaN; :func:`worst` propagates it.
"""

from __future__ import annotations

import numpy as np

MC_SE_TOL = 4.0  # Monte Carlo checks pass within this many standard errors


def worst(*errors) -> float:
    """The largest of ``errors`` (numbers or arrays), NaN if any of them holds a NaN."""
    return float(np.max(np.concatenate([np.ravel(np.asarray(e, dtype=float)) for e in errors])))


def record(identity: str, error: float, tolerance: float) -> dict:
    """One check's record; NaN never passes (NaN <= tol is False)."""
    error = float(error)
    return {"identity": identity, "max_abs_error": error, "tolerance": float(tolerance),
            "passed": bool(error <= tolerance)}


def max_z(estimates: np.ndarray, se: np.ndarray, exact: np.ndarray) -> float:
    """Largest |estimate - exact| in standard errors (SE 0 only for a constant integrand)."""
    return worst(np.abs(estimates - exact) / np.maximum(se, 1e-12))
