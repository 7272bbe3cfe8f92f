"""``returnrisk train --cluster``: connect to Dask, show the dashboard link, run the cluster pipeline.

Kept apart from :mod:`returnrisk.cli.model_commands` so that the single-process ``train`` never
imports Dask.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

from returnrisk.cluster.connect import connect, parse_cluster_spec, require_dask
from returnrisk.data.problems import DataError
from returnrisk.errors import ReturnRiskError

__all__ = ["train_on_cluster", "explain_cluster_failure"]


def explain_cluster_failure(exc: BaseException) -> ReturnRiskError:
    """A clear message for a run the cluster could not finish (nothing is registered then)."""
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        task = exc.task if isinstance(exc.task, str) else str(exc.task)
        what = f"a Dask worker died while running {task} (Dask retried it on other workers, each died too)"
    elif type(exc).__name__ == "LightGBMError":
        what = f"the distributed LightGBM fit failed ({str(exc).splitlines()[0]}): a worker was lost mid-fit"
    else:
        what = f"the cluster failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return ReturnRiskError(
        f"{what}; the training stopped and nothing was registered (the champion is untouched). "
        "Look at the workers' logs in the Dask dashboard (memory limit exceeded?), give the workers more "
        "memory or use more of them, and run the command again")


def _memory_note(client) -> str:
    limits = {w["memory_limit"] for w in client.scheduler_info()["workers"].values()}
    return f" of {max(limits) / 2**30:.1f} GiB each" if len(limits) == 1 and max(limits) else ""


@contextmanager
def _stdout_to_stderr(active: bool):
    """With ``--json`` stdout must hold the JSON line alone: what the local workers and LightGBM's
    C++ network code print goes to stderr (file descriptor 1 is pointed at 2 during the run)."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def train_on_cluster(data: str, cluster: str, *, out, params, tracker, as_of, quarantine, start, end,
                     json_mode: bool = False, worker_memory: str | None = None, shards: int | None = None):
    """Train on the cluster named by ``cluster`` (``local[:N]`` or ``tcp://HOST:PORT``); ``worker_memory``
    is the memory limit of each worker of a local cluster (e.g. ``"4GiB"``)."""
    spec = parse_cluster_spec(cluster, memory_limit=worker_memory)
    with _stdout_to_stderr(json_mode):
        return _train(data, spec, out=out, params=params, tracker=tracker, as_of=as_of, quarantine=quarantine,
                      start=start, end=end, shards=shards)


def _train(data, spec, *, out, params, tracker, as_of, quarantine, start, end, shards=None):
    require_dask()
    for noisy in ("distributed", "tornado", "bokeh"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # distributed always starts its dashboard with websocket origin "*", and bokeh warns about it on
    # every run: a fact of Dask's dashboard (protect it at the network level), not of this run
    logging.getLogger("bokeh.server.util").setLevel(logging.ERROR)
    from returnrisk.cluster.train import ClusterStageClock, run_cluster_training

    with connect(spec) as client:
        workers = client.nthreads()
        where = (f"a local cluster of {len(workers)} worker processes" + _memory_note(client)
                 if spec.is_local else f"the cluster at {spec.address}")
        out.print(f"training on {where} ({sum(workers.values())} threads) · Dask dashboard: {client.dashboard_link}")
        clock = ClusterStageClock(start, end, client=client)
        try:
            return run_cluster_training(data, client=client, params=params, tracker=tracker, as_of=as_of,
                                        quarantine_dir=quarantine, clock=clock, shards=shards)
        except (ReturnRiskError, DataError):
            raise
        except Exception as exc:  # noqa: BLE001 (any failure of the cluster becomes one clear message)
            raise explain_cluster_failure(exc) from exc
