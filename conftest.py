"""Collection rules for the whole repository (doctests of modules with optional extras)."""

from __future__ import annotations

import importlib.util
import os

# The examples of weightinit.dask, .torch, .jax and .keras need their extras; without one,
# its module is not collected.
collect_ignore = [
    path
    for extra in ("dask", "torch", "jax", "keras")
    if not importlib.util.find_spec(extra)
    for path in (f"src/weightinit/{extra}.py", f"src/weightinit/{extra}")
]

# Keras needs a backend; without a choice of the user's, one that is installed.
if "KERAS_BACKEND" not in os.environ:
    for backend in ("jax", "torch"):
        if importlib.util.find_spec(backend):
            os.environ["KERAS_BACKEND"] = backend
            break
