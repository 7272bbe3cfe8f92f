"""Moving rows between partitions: shard numbers from hashed keys, and an all-to-all exchange.

A shard holds every row of its keys (all the lines of a customer, all the lines of a product),
so the single-process code computes exact per-key results on it. Rows keep their relative order:
destination ``j`` receives, from each source in order, the source's rows of shard ``j`` in order.

The exchange is plain Dask futures (one split task per source, one small task per piece, one
combine task per destination): a lost worker's pieces are recomputed from their lineage. It
suits tens of partitions; at thousands of partitions Dask's peer-to-peer shuffle
(``dask.dataframe`` ``shuffle(method="p2p")``) is the tool (see docs/scale-out.md).
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

__all__ = ["shard_of", "split_by", "split_on", "exchange", "concat_frames", "hold"]


def shard_of(values: pd.Series, shards: int) -> np.ndarray:
    """Shard number (``0..shards-1``) of each value, stable across processes and runs.

    Distinct values are hashed once (pandas' SipHash with its fixed key); missing values go to
    shard 0.
    """
    codes, uniques = pd.factorize(pd.Series(values).astype(object), use_na_sentinel=True)
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object)) % np.uint64(shards)
    out = np.zeros(len(codes), dtype=np.int32)
    known = codes >= 0
    out[known] = hashed.astype(np.int32)[codes[known]]
    return out


def split_by(frame: pd.DataFrame, shard: np.ndarray, shards: int) -> list[pd.DataFrame]:
    """``frame`` cut into ``shards`` frames by ``shard`` (row order kept within each)."""
    order = np.argsort(shard, kind="stable")
    bounds = np.searchsorted(shard[order], np.arange(shards + 1))
    return [frame.iloc[order[bounds[j]:bounds[j + 1]]].reset_index(drop=True) for j in range(shards)]


def split_on(frame: pd.DataFrame, shards: int, column: str) -> list[pd.DataFrame]:
    """``frame`` cut by the shard numbers it holds in ``column`` (rows whose shard is negative —
    nowhere to go — are dropped)."""
    if not len(frame):
        return [frame] * shards
    shard = frame[column].to_numpy()
    keep = shard >= 0
    if not keep.all():
        frame, shard = frame[keep].reset_index(drop=True), shard[keep]
    return split_by(frame.reset_index(drop=True), shard.astype(np.int64), shards)


def concat_frames(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    pieces = [p for p in pieces if p is not None]
    if not pieces:
        return pd.DataFrame()
    return pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]


def exchange(client, sources: list, split, shards: int, combine=concat_frames, *, name: str = "exchange",
             **split_kwargs) -> list:
    """All-to-all: ``split(source, shards, **kw)`` gives each source's list of ``shards`` pieces;
    destination ``j`` is ``combine([piece j of every source, in source order])``. Returns futures.

    Only the destinations are returned: a split or a piece lives while a task still needs it, and
    the scheduler recomputes any destination a dead worker held from its lineage."""
    cut = client.map(split, sources, shards=shards, key=[f"{name}-split-{i}-{_token(s)}" for i, s in enumerate(sources)],
                     **split_kwargs)
    out = []
    for j in range(shards):
        pieces = [client.submit(operator.getitem, c, j, key=f"{name}-piece-{i}-{j}-{c.key}") for i, c in enumerate(cut)]
        out.append(client.submit(combine, pieces, key=f"{name}-combine-{j}-{_token(pieces)}"))
    return out


def _token(obj) -> str:
    from dask.base import tokenize

    return tokenize(getattr(obj, "key", obj) if not isinstance(obj, list) else [getattr(o, "key", o) for o in obj])


def _identity(value):
    return value


def hold(client, value, name: str):
    """``value`` put on the cluster as the result of a task, for every task to use.

    Not ``client.scatter(value, broadcast=True)``: scattered data has no lineage, and Dask's
    active memory manager drops a broadcast's extra replicas, so a worker lost later loses it for
    good ("lost scattered data"). A task's result is recomputed from the graph, which holds
    ``value`` (keep it small: catalogues, tables of small entities, models).
    """
    import uuid

    return client.submit(_identity, value, key=f"{name}-{uuid.uuid4().hex}")
