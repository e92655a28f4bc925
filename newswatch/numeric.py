"""numpy, loaded with a one-thread BLAS: import ``np`` from here, never numpy directly.

The clustering calls numpy on vectors of a few hundred numbers, where a BLAS thread pool
only costs: OpenBLAS's idle threads spin after each call, about 10% more CPU for a cold
feed ingest, taken from the fetch workers. OpenBLAS (and MKL, OpenMP) read their thread
count from the environment when numpy loads them, so it is set for that moment only and
put back: commands that newswatch runs (``--exec``) see the environment unchanged. A
count the user set is kept; so is numpy as loaded by whoever imported it first."""

from __future__ import annotations

import os

_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
_unset = [name for name in _VARS if name not in os.environ]
for _name in _unset:
    os.environ[_name] = "1"
try:
    import numpy as np
finally:
    for _name in _unset:
        os.environ.pop(_name, None)

__all__ = ["np"]
