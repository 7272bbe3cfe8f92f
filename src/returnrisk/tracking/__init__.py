"""Everything returnrisk does with MLflow: runs, the pyfunc model, the registry and its aliases.

No other part of the package imports MLflow.
"""

from returnrisk.tracking.store import (
    ALIASES,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    DEFAULT_TRACKING_URI,
    EXPERIMENT_NAME,
    MODEL_NAME,
    ModelRef,
    Tracker,
    model_signature,
)

__all__ = ["Tracker", "ModelRef", "DEFAULT_TRACKING_URI", "MODEL_NAME", "CHAMPION_ALIAS", "CHALLENGER_ALIAS",
           "ALIASES", "EXPERIMENT_NAME", "model_signature"]
