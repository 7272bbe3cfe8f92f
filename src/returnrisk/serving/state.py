"""The model the service serves, and its atomic replacement on reload.

A request takes ``holder.current`` once and uses that object to the end, so a reload — which
builds the new :class:`LoadedModel` completely before assigning it — never mixes two models
in one answer and never fails a request in flight.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from returnrisk.model.bundle import ServingBundle
from returnrisk.scoring import ExplainedScorer

__all__ = ["LoadedModel", "ModelHolder", "ModelLoader"]

log = logging.getLogger(__name__)

#: ``() -> (bundle, info)`` where info has at least ``version`` and ``uri`` (and ``alias``).
ModelLoader = Callable[[], tuple[ServingBundle, dict]]


@dataclass
class LoadedModel:
    bundle: ServingBundle
    info: dict
    scorer: ExplainedScorer
    anonymous: dict[tuple[str, str, str], bytes]
    loaded_at: str
    load_seconds: float
    extras: dict = field(default_factory=dict)

    @property
    def version(self) -> str | None:
        return self.info.get("version")


def build_loaded(bundle: ServingBundle, info: dict) -> LoadedModel:
    started = time.perf_counter()
    scorer = ExplainedScorer(bundle, info.get("version"))
    anonymous = scorer.anonymous()
    seconds = time.perf_counter() - started
    log.info("model v%s ready: %d product-size answers precomputed in %.1f s", info.get("version"),
             len(anonymous) // 2, seconds)
    return LoadedModel(bundle, info, scorer, anonymous, pd.Timestamp.now(tz="UTC").isoformat(), seconds)


class ModelHolder:
    """Holds the current model; :meth:`reload` swaps in a new one atomically."""

    def __init__(self, loader: ModelLoader):
        self._loader = loader
        self._lock = threading.Lock()
        self.current: LoadedModel | None = None
        self.reloads = 0
        self.last_error: str | None = None

    def load(self) -> LoadedModel:
        with self._lock:
            bundle, info = self._loader()
            loaded = build_loaded(bundle, info)
            self.current = loaded        # the swap: one reference assignment
            self.reloads += 1
            self.last_error = None
        _settle_garbage_collector()
        return loaded


def _settle_garbage_collector() -> None:
    """Collect once, then move every surviving object out of the collector's sight.

    A loaded model holds millions of long-lived objects (precomputed answers, indexes). Left in
    the collector's oldest generation, each full collection walks all of them and stalls
    requests for a tenth of a second or more; frozen, they are never walked. A reload unfreezes
    first so that the previous model can be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
