"""Where the work runs: ``local[:N]`` (a LocalCluster of N worker processes) or a scheduler address."""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass

from returnrisk.errors import InputError

__all__ = ["ClusterSpec", "parse_cluster_spec", "connect", "SCHEDULER_ENV", "require_dask"]

log = logging.getLogger(__name__)

#: Environment variable the CLI reads when ``--cluster`` is not given (the flag wins).
SCHEDULER_ENV = "RETURNRISK_DASK_SCHEDULER"
_LOCAL = re.compile(r"^local(?::(\d+))?$")
_REMOTE = re.compile(r"^(tcp|tls|ws|wss|inproc)://[^\s/]+(:\d+)?/?$")


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster`` value: ``local`` with ``workers`` processes, or a scheduler ``address``.

    ``memory_limit`` (per local worker, e.g. ``"4GiB"``; default: the machine's memory shared
    equally) and ``dashboard_address`` only apply to a local cluster.
    """

    text: str
    workers: int | None = None
    address: str | None = None
    memory_limit: str | None = None
    dashboard_address: str = ":8787"

    @property
    def is_local(self) -> bool:
        return self.address is None


def parse_cluster_spec(text: str, *, memory_limit: str | None = None,
                       dashboard_address: str = ":8787") -> ClusterSpec:
    """``local`` (one worker per core), ``local:N`` or ``tcp://HOST:PORT``; anything else is an error."""
    value = (text or "").strip()
    local = _LOCAL.match(value)
    if memory_limit is not None:
        if not local:
            raise InputError(f"--worker-memory {memory_limit} applies to a local cluster (local[:N]); the workers of "
                             f"{value or 'a remote cluster'} have their own limit (dask worker --memory-limit)")
        memory_limit = _checked_memory(memory_limit)
    if local:
        workers = int(local.group(1)) if local.group(1) else (os.cpu_count() or 1)
        if workers < 1:
            raise InputError(f"--cluster {text!r}: a local cluster needs at least one worker (e.g. local:2)")
        return ClusterSpec(value, workers=workers, memory_limit=memory_limit, dashboard_address=dashboard_address)
    if _REMOTE.match(value):
        return ClusterSpec(value, address=value.rstrip("/"))
    raise InputError(
        f"--cluster {text!r} is not a cluster: use local (one worker per core), local:N (N worker "
        f"processes on this machine) or the scheduler's address, e.g. tcp://10.0.0.5:8786 "
        f"(also read from ${SCHEDULER_ENV})")


def _checked_memory(text: str) -> str:
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(text.strip())
    except (ValueError, TypeError):
        size = None
    if not size or size < 2**28:
        raise InputError(f"--worker-memory {text!r} is not a memory size a worker can run in: use e.g. 4GiB or "
                         "9GB (at least 256MiB)")
    return text.strip()


def require_dask() -> None:
    """Raise a clear error when the optional cluster extra is not installed."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise InputError("--cluster needs Dask: pip install 'returnrisk[cluster]' "
                         "(dask[distributed] and its dashboard)") from None


@contextmanager
def connect(spec: ClusterSpec):
    """A ``distributed.Client`` for ``spec`` (a local cluster is started and stopped around it)."""
    require_dask()
    from distributed import Client, LocalCluster

    if spec.is_local:
        cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                               memory_limit=spec.memory_limit or "auto",
                               dashboard_address=spec.dashboard_address)
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(spec.address, timeout="30s")
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {spec.address}: {exc}. Start it "
                             "(`dask scheduler`) or check the address") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
