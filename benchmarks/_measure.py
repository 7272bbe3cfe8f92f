"""Run a command in a fresh child process and report its wall time and peak resident memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["measure", "machine"]

_WRAPPER = (
    "import json,resource,subprocess,sys,time\n"
    "t=time.perf_counter()\n"
    "p=subprocess.run(sys.argv[1:],capture_output=True,text=True)\n"
    "print(json.dumps({'wall':time.perf_counter()-t,"
    "'peak_mb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,"
    "'code':p.returncode,'stdout':p.stdout,'stderr':p.stderr}))\n"
)


def measure(cmd: list[str], cwd: str | None = None) -> dict:
    """``{"wall", "peak_mb", "code", "stdout", "stderr"}`` of ``cmd`` run in its own wrapper process,
    so that the peak memory is the command's alone."""
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, cwd=cwd)
    return json.loads(proc.stdout)


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start, Python {sys.version.split()[0]}"
