"""``returnrisk train --cluster``: connect to Dask, show the dashboard link, run the cluster pipeline.

Kept apart from :mod:`returnrisk.cli.model_commands` so that the single-process ``train`` never
imports Dask.
"""

from __future__ import annotations

import logging

from returnrisk.cluster.connect import connect, parse_cluster_spec, require_dask

__all__ = ["train_on_cluster"]


def train_on_cluster(data: str, cluster: str, *, out, params, tracker, as_of, quarantine, start, end):
    """Train on the cluster named by ``cluster`` (``local[:N]`` or ``tcp://HOST:PORT``)."""
    spec = parse_cluster_spec(cluster)
    require_dask()
    for noisy in ("distributed", "tornado", "bokeh"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from returnrisk.cluster.train import ClusterStageClock, run_cluster_training

    with connect(spec) as client:
        workers = client.nthreads()
        where = f"a local cluster of {len(workers)} worker processes" if spec.is_local else f"the cluster at {spec.address}"
        out.print(f"training on {where} ({sum(workers.values())} threads) · Dask dashboard: {client.dashboard_link}")
        clock = ClusterStageClock(start, end, client=client)
        return run_cluster_training(data, client=client, params=params, tracker=tracker, as_of=as_of,
                                    quarantine_dir=quarantine, clock=clock)
