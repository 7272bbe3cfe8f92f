"""Runs, models and the registry: every call returnrisk makes to MLflow is in this package.

Defaults: tracking store ``sqlite:///mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts`` (relative to the working directory); any MLflow tracking URI works the
same (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``, resolved by the caller).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from returnrisk.config import DEFAULT_MODEL_URI
from returnrisk.errors import ModelNotFoundError, ReturnRiskError

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MODEL_NAME",
    "CHAMPION_ALIAS",
    "EXPERIMENT_NAME",
    "ModelRef",
    "Tracker",
]

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
MODEL_NAME = "returnrisk"
CHAMPION_ALIAS = "champion"  # DEFAULT_MODEL_URI (returnrisk.config) is models:/MODEL_NAME@CHAMPION_ALIAS
EXPERIMENT_NAME = "returnrisk"
_PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")


@dataclass
class ModelRef:
    """Which registered model version a URI designates."""

    uri: str
    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None


def _mlflow():
    import mlflow

    return mlflow


class Tracker:
    """MLflow access for one tracking URI (runs, model logging, registry, loading)."""

    def __init__(self, tracking_uri: str | None = None, experiment: str = EXPERIMENT_NAME):
        self.tracking_uri = tracking_uri or DEFAULT_TRACKING_URI
        self.experiment = experiment
        self._prepare_local_store()
        mlflow = _mlflow()
        mlflow.set_tracking_uri(self.tracking_uri)
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=self.tracking_uri)

    # ---- store set-up -------------------------------------------------------------------------
    @property
    def is_local_sqlite(self) -> bool:
        return self.tracking_uri.startswith("sqlite:///")

    def _local_root(self) -> Path | None:
        if not self.is_local_sqlite:
            return None
        return Path(self.tracking_uri[len("sqlite:///"):]).expanduser().resolve().parent

    def _prepare_local_store(self) -> None:
        root = self._local_root()
        if root is not None:
            (root / "artifacts").mkdir(parents=True, exist_ok=True)

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            return experiment.experiment_id
        root = self._local_root()
        location = (root / "artifacts").as_uri() if root is not None else None
        return self.client.create_experiment(self.experiment, artifact_location=location)

    # ---- runs ---------------------------------------------------------------------------------
    @contextmanager
    def run(self, run_name: str, tags: dict[str, str]):
        """An MLflow run; it ends FAILED (and nothing is promoted) if the block raises."""
        mlflow = _mlflow()
        with mlflow.start_run(experiment_id=self._experiment_id(), run_name=run_name, tags=tags) as active:
            yield active.info.run_id

    def log_params(self, params: dict[str, object]) -> None:
        mlflow = _mlflow()
        items = {k: (str(v)[:500] if v is not None else "") for k, v in params.items()}
        keys = list(items)
        for start in range(0, len(keys), 100):
            mlflow.log_params({k: items[k] for k in keys[start:start + 100]})

    def log_metrics(self, metrics: dict[str, float]) -> None:
        import math

        clean = {k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not math.isnan(float(v))}
        _mlflow().log_metrics(clean)

    def log_figure(self, figure, name: str) -> None:
        _mlflow().log_figure(figure, name)

    def log_dict(self, payload: dict, name: str) -> None:
        _mlflow().log_dict(payload, name)

    def log_model(self, bundle_dir: Path, input_example=None) -> str:
        """Log the pyfunc model with its bundle and register it; returns the new version."""
        mlflow = _mlflow()
        import lightgbm
        import pandas
        import pyarrow
        import sklearn

        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(_PYFUNC_CODE),
            artifacts={"bundle": str(bundle_dir)},
            registered_model_name=MODEL_NAME,
            pip_requirements=[
                f"mlflow=={mlflow.__version__}", f"lightgbm=={lightgbm.__version__}",
                f"pandas=={pandas.__version__}", f"pyarrow=={pyarrow.__version__}",
                f"scikit-learn=={sklearn.__version__}", "returnrisk",
            ],
            input_example=input_example,
        )
        version = str(info.registered_model_version)
        log.info("registered %s version %s", MODEL_NAME, version)
        return version

    # ---- registry -----------------------------------------------------------------------------
    def champion(self) -> ModelRef | None:
        """The version carrying the ``champion`` alias, or ``None``."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
        except MlflowException:
            return None
        return ModelRef(DEFAULT_MODEL_URI, MODEL_NAME, str(mv.version),
                        CHAMPION_ALIAS, mv.run_id)

    def set_champion(self, version: str | int) -> ModelRef:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(MODEL_NAME, str(version))
        except MlflowException:
            raise ModelNotFoundError(
                f"model {MODEL_NAME!r} has no version {version} in {self.tracking_uri}: "
                f"list versions with `mlflow ui --backend-store-uri {self.tracking_uri}`"
            ) from None
        self.client.set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, str(version))
        return ModelRef(DEFAULT_MODEL_URI, MODEL_NAME, str(mv.version),
                        CHAMPION_ALIAS, mv.run_id)

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(MODEL_NAME, str(version), key, value)

    def resolve(self, model_uri: str) -> ModelRef:
        """Name, version and alias behind ``models:/name@alias``, ``models:/name/N`` or other URIs."""
        from mlflow.exceptions import MlflowException

        if model_uri.startswith("models:/"):
            rest = model_uri[len("models:/"):]
            try:
                if "@" in rest:
                    name, alias = rest.split("@", 1)
                    mv = self.client.get_model_version_by_alias(name, alias)
                    return ModelRef(model_uri, name, str(mv.version), alias, mv.run_id)
                name, version = rest.split("/", 1)
                mv = self.client.get_model_version(name, version)
                return ModelRef(model_uri, name, str(mv.version), None, mv.run_id)
            except (MlflowException, ValueError):
                if model_uri == DEFAULT_MODEL_URI:
                    raise ModelNotFoundError(
                        "no champion model: run `returnrisk train --data DIR` first "
                        f"(tracking store: {self.tracking_uri})"
                    ) from None
                raise ModelNotFoundError(
                    f"model {model_uri!r} not found in {self.tracking_uri}: check the name and version, "
                    f"or list them with `mlflow ui --backend-store-uri {self.tracking_uri}`"
                ) from None
        return ModelRef(model_uri, None, None, None, None)

    def load_bundle(self, model_uri: str):
        """``(ServingBundle, ModelRef)`` of a logged returnrisk model."""
        mlflow = _mlflow()
        from mlflow.exceptions import MlflowException

        ref = self.resolve(model_uri)
        uri = f"models:/{ref.name}/{ref.version}" if ref.version else model_uri
        try:
            model = mlflow.pyfunc.load_model(uri)
        except (MlflowException, OSError) as exc:
            raise ModelNotFoundError(f"cannot load model {model_uri!r}: {str(exc).splitlines()[0]}") from None
        python_model = model.unwrap_python_model()
        bundle = getattr(python_model, "bundle", None)
        if bundle is None:
            raise ReturnRiskError(f"{model_uri!r} is not a returnrisk model (no serving bundle)")
        return bundle, ref

    def model_versions(self) -> list[dict]:
        """Every registered version with its run's metrics (newest first)."""
        from mlflow.exceptions import MlflowException

        try:
            versions = self.client.search_model_versions(f"name='{MODEL_NAME}'")
        except MlflowException:
            return []
        out = []
        for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
            run = self.client.get_run(mv.run_id) if mv.run_id else None
            out.append({
                "version": str(mv.version),
                "aliases": list(getattr(mv, "aliases", []) or []),
                "run_id": mv.run_id,
                "created": mv.creation_timestamp,
                "metrics": dict(run.data.metrics) if run else {},
                "tags": dict(mv.tags or {}),
            })
        return out


