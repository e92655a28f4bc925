"""numpy is loaded with a one-thread BLAS, the environment put back afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("import os, sys; {imp}; "
         "print(len(os.listdir('/proc/self/task')), os.environ.get('OPENBLAS_NUM_THREADS'))")
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _probe(imp: str, **env: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    out = subprocess.run([sys.executable, "-c", PROBE.format(imp=imp)], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), out[1]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_numpy_gets_no_blas_threads_and_the_environment_is_put_back() -> None:
    threads, var = _probe("from newswatch.numeric import np")
    assert (threads, var) == (1, "None")  # only the main thread; nothing left set
    plain, _ = _probe("import numpy")
    if (os.cpu_count() or 1) > 1:  # a thread pool is what plain numpy starts here
        assert plain > 1
    # a thread count the user chose is theirs
    assert _probe("from newswatch.numeric import np", OPENBLAS_NUM_THREADS="2")[1] == "2"
