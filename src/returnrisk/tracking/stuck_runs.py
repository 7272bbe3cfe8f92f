"""Runs left RUNNING by a killed training, and the versions they registered without a decision.

Every run records where it runs (:func:`process_tags`: ``returnrisk.host``, ``returnrisk.pid`` and
the process's start time, so a reused process id is not taken for the run's). The next training
calls :func:`reap_stuck_runs`: a RUNNING run of *this host* whose process no longer exists is
marked FAILED (with a ``returnrisk.failure`` tag saying why); a run of another host, or whose
process still runs (a training in progress elsewhere), is left alone. A registered version of a
failed run that never got its promotion decision is tagged ``abandoned`` (and its ``promotion``
tag says so, as ``returnrisk models`` shows it).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field

__all__ = ["process_tags", "process_alive", "reap_stuck_runs", "Reaped", "HOST_TAG", "PID_TAG", "STARTED_TAG"]

log = logging.getLogger(__name__)

HOST_TAG, PID_TAG, STARTED_TAG = "returnrisk.host", "returnrisk.pid", "returnrisk.pid_started"


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]   # field 22 of proc(5), after the command name


def process_tags() -> dict[str, str]:
    """The tags that say which process runs a run."""
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    started = _start_ticks(os.getpid())
    if started is not None:
        tags[STARTED_TAG] = started
    return tags


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` of this host exists (and, if ``started`` is known, is the same process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started is not None:
        now = _start_ticks(pid)
        return now is None or now == started
    return True


@dataclass
class Reaped:
    failed_runs: list[str] = field(default_factory=list)
    abandoned_versions: list[str] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)


def reap_stuck_runs(client, experiment_id: str, model_name: str) -> Reaped:
    """Mark this host's dead RUNNING runs FAILED and tag their undecided versions ``abandoned``."""
    host = socket.gethostname()
    result = Reaped()
    runs = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000)
    for run in runs:
        tags = run.data.tags
        pid = tags.get(PID_TAG)
        if tags.get(HOST_TAG) != host or not (pid or "").isdigit():
            result.left_running.append(run.info.run_id)     # another host's, or a run of an older version
            continue
        if process_alive(int(pid), tags.get(STARTED_TAG)):
            result.left_running.append(run.info.run_id)     # a training still in progress
            continue
        client.set_tag(run.info.run_id, "returnrisk.failure",
                       f"process {pid} on {host} ended without finishing the run (killed?); marked failed by the "
                       "next training")
        client.set_terminated(run.info.run_id, "FAILED")
        result.failed_runs.append(run.info.run_id)
        log.warning("run %s was left RUNNING by process %s on %s, which no longer exists: marked FAILED",
                    run.info.run_id, pid, host)
    if result.failed_runs:
        failed = set(result.failed_runs)
        for version in client.search_model_versions(f"name='{model_name}'"):
            if version.run_id in failed and "promotion" not in (version.tags or {}):
                client.set_model_version_tag(model_name, version.version, "abandoned", "true")
                client.set_model_version_tag(model_name, version.version, "promotion",
                                             f"abandoned: run {version.run_id} was killed before its decision")
                result.abandoned_versions.append(str(version.version))
                log.warning("version %s of %s was registered by a killed run: tagged abandoned", version.version,
                            model_name)
    return result
