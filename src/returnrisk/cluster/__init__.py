"""Training on a Dask cluster when a shop outgrows one machine (``returnrisk train --cluster``).

Nothing here is imported by the single-process path: Dask is an optional extra
(``pip install 'returnrisk[cluster]'``). The pieces, in the order a run uses them:

* :mod:`~returnrisk.cluster.connect` — ``local[:N]`` / ``tcp://HOST:PORT`` → a Dask client;
* :mod:`~returnrisk.cluster.sources` — a shop folder (local or any fsspec URL) whose tables are one
  file or a folder of parts;
* :mod:`~returnrisk.cluster.exchange` — moving rows between partitions by a hashed key (shards);
* :mod:`~returnrisk.cluster.loading` — partitioned reading and validation with the loader's own
  rules, quarantine files per part;
* :mod:`~returnrisk.cluster.features` — point-in-time features sharded by customer and product,
  small entities reduced and broadcast; the single-process feature code runs on each shard;
* :mod:`~returnrisk.cluster.fitting` — ``lightgbm.dask`` fits, the best iteration and Platt
  calibration from sums over partitions;
* :mod:`~returnrisk.cluster.metrics` — validation metrics aggregated exactly over partitions;
* :mod:`~returnrisk.cluster.train` — the whole ``train`` run (MLflow, registry and champion gate
  shared with the single-process path).
"""

__all__ = ["ClusterSpec", "parse_cluster_spec", "run_cluster_training"]


def __getattr__(name):  # lazy: importing the package does not import Dask
    if name in ("ClusterSpec", "parse_cluster_spec"):
        from returnrisk.cluster import connect

        return getattr(connect, name)
    if name == "run_cluster_training":
        from returnrisk.cluster.train import run_cluster_training

        return run_cluster_training
    raise AttributeError(name)
