"""Shared helpers for the reliability suite: the CLI as a subprocess, peak memory of a
child, privileges dropped for permission tests, and the benchmark switch."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
for _var in ("NEWSWATCH_CONFIG", "NEWSWATCH_DB", "NEWSWATCH_WATCHLISTS",
             "NEWSWATCH_WEBHOOK_SECRET"):
    ENV.pop(_var, None)

# Slow runs (minutes, GBs) are benchmarks, not CI: NEWSWATCH_BENCHMARKS=1 runs them.
benchmark = pytest.mark.skipif(os.environ.get("NEWSWATCH_BENCHMARKS") != "1",
                               reason="benchmark: set NEWSWATCH_BENCHMARKS=1 to run")

# One error line as the CLI prints it: "file:line:col: message" or "file: message".
POSITIONED = re.compile(r"^.+:\d+:\d+: .+$")
FILE_LEVEL = re.compile(r"^.+: .+$")


def cli(*args: str, timeout: float = 120, cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """``newswatch ARGS`` in a fresh interpreter, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "newswatch.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**ENV, **(env or {})},
                          cwd=cwd or REPO, check=False, preexec_fn=preexec_fn)


def assert_no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout, done.stdout


_PEAK = """\
import resource, subprocess, sys, json
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps([done.returncode, done.stdout, done.stderr,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""


def peak_rss(cmd: Sequence[str], timeout: float = 120
             ) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``cmd`` under a small wrapper whose only child it is, so the wrapper's
    ``RUSAGE_CHILDREN.ru_maxrss`` is the peak resident size of ``cmd`` (and of anything it
    forked and waited for) alone. Returns (result, peak bytes)."""
    out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True,
                         timeout=timeout, env=ENV, cwd=REPO, check=True)
    code, stdout, stderr, kib = json.loads(out.stdout)
    return subprocess.CompletedProcess(list(cmd), code, stdout, stderr), kib * 1024


def newswatch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "newswatch.cli", *args]


# ------------------------------------------------------------------ privileges

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3
_PR_CAPBSET_DROP = 24
try:  # loaded here, not in the forked child: dlopen after fork can deadlock
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
except OSError:
    _LIBC = None


def _drop_dac_capabilities() -> None:
    """In the child, before exec: take the capabilities that let root ignore file modes
    out of the bounding set, so the exec'd program (still uid 0, so it can reach the
    interpreter under /root) obeys file permissions like any user."""
    if _LIBC is None:
        raise OSError("no libc")
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if _LIBC.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def unprivileged(tmp: Path) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes a child obey file permissions, or None when we are not
    root (then permissions already apply). Skips the test when root cannot drop them."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    probe = tmp / "perm-probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        done = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}).read()"],
                              capture_output=True, preexec_fn=_drop_dac_capabilities,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE")
    finally:
        probe.unlink()
    if done.returncode == 0:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE")
    return _drop_dac_capabilities
