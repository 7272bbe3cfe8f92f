"""Runs, models and the registry: every call returnrisk makes to MLflow is in this package.

Defaults: tracking store ``sqlite:///mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts`` (relative to the working directory); any MLflow tracking URI works the
same (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``, resolved by the caller).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from returnrisk.config import DEFAULT_MODEL_URI
from returnrisk.errors import ModelNotFoundError, ReturnRiskError

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MODEL_NAME",
    "CHAMPION_ALIAS",
    "CHALLENGER_ALIAS",
    "ALIASES",
    "EXPERIMENT_NAME",
    "ModelRef",
    "Tracker",
    "model_signature",
]

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
MODEL_NAME = "returnrisk"
CHAMPION_ALIAS = "champion"  # DEFAULT_MODEL_URI (returnrisk.config) is models:/MODEL_NAME@CHAMPION_ALIAS
CHALLENGER_ALIAS = "challenger"
ALIASES = (CHAMPION_ALIAS, CHALLENGER_ALIAS)
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


_MLFLOW_TYPES = {"string": "string", "number": "double", "integer": "double", "boolean": "boolean",
                 "timestamp": "string"}


def model_signature(input_columns: list[tuple[str, str, bool]], output_columns: list[tuple[str, str]]):
    """An MLflow signature from ``(name, contract kind, required)`` inputs and ``(name, kind)`` outputs.

    Contract kinds map to MLflow types: integers as doubles (a column with a missing value still
    validates) and timestamps as ISO 8601 text, as in the contract's files and in JSON — MLflow's
    ``datetime`` accepts only time-zone-naive values; optional columns are ``required=False``.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec(_MLFLOW_TYPES[kind], name, required=required) for name, kind, required in input_columns])
    outputs = Schema([ColSpec(_MLFLOW_TYPES[kind], name) for name, kind in output_columns])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _training_dataset(name: str, digest: str, source: str, profile: dict, columns: list[tuple[str, str, bool]]):
    """An MLflow dataset of metadata only (the shop's files stay where they are)."""
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import ColSpec, Schema

    class ShopDataset(MetaDataset):
        @property
        def profile(self):
            return profile

        def to_dict(self):
            return {**super().to_dict(), "profile": json.dumps(profile)}

    schema = Schema([ColSpec(_MLFLOW_TYPES[kind], column, required=required) for column, kind, required in columns])
    uri = Path(source).resolve().as_uri() if "://" not in source else source
    local = get_dataset_source_from_json(json.dumps({"uri": uri}), source_type="local")
    return ShopDataset(local, name=name, digest=digest, schema=schema)


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
        """An MLflow run; it ends FAILED (and nothing is promoted) if the block raises. It records the
        host and process that run it (see :mod:`returnrisk.tracking.stuck_runs`)."""
        mlflow = _mlflow()
        from returnrisk.tracking.stuck_runs import process_tags

        tags = {**tags, **process_tags()}
        with mlflow.start_run(experiment_id=self._experiment_id(), run_name=run_name, tags=tags) as active:
            yield active.info.run_id

    def reap_stuck_runs(self):
        """Runs of this host left RUNNING by a dead process → FAILED; their undecided versions → ``abandoned``."""
        from returnrisk.tracking.stuck_runs import reap_stuck_runs

        return reap_stuck_runs(self.client, self._experiment_id(), MODEL_NAME)

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

    def log_text(self, text: str, name: str) -> None:
        _mlflow().log_text(text, name)

    def log_training_input(self, *, name: str, digest: str, source: str, profile: dict,
                           columns: list[tuple[str, str, bool]], tags: dict[str, str] | None = None) -> None:
        """Record the training data on the active run (``mlflow.log_input``, context ``training``):
        its name, digest, location, profile (row counts, date range, as-of) and the order lines' schema."""
        dataset = _training_dataset(name, digest[:36], source, profile, columns)
        _mlflow().log_input(dataset, context="training", tags={k: str(v) for k, v in (tags or {}).items()})

    def log_model(self, bundle_dir: Path, *, signature=None, input_example=None) -> str:
        """Log the pyfunc model with its bundle and register it; returns the new version.

        The model carries a wheel of this very returnrisk (``code/``), pinned by path in its
        requirements with the exact versions of the libraries that score, so it loads in a new
        virtual environment (see :mod:`returnrisk.tracking.wheel`).
        """
        mlflow = _mlflow()
        import lightgbm
        import numpy
        import pandas
        import pyarrow
        import scipy
        import sklearn

        from returnrisk.tracking.wheel import build_wheel

        with tempfile.TemporaryDirectory(prefix="returnrisk-wheel-") as tmp:
            wheel = build_wheel(tmp)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(_PYFUNC_CODE),
                artifacts={"bundle": str(bundle_dir)},
                code_paths=[str(wheel)],
                registered_model_name=MODEL_NAME,
                pip_requirements=[
                    f"mlflow=={mlflow.__version__}", f"lightgbm=={lightgbm.__version__}",
                    f"numpy=={numpy.__version__}", f"pandas=={pandas.__version__}",
                    f"pyarrow=={pyarrow.__version__}", f"scikit-learn=={sklearn.__version__}",
                    f"scipy=={scipy.__version__}", f"./code/{wheel.name}",
                ],
                signature=signature,
                input_example=input_example,
            )
        version = str(info.registered_model_version)
        log.info("registered %s version %s", MODEL_NAME, version)
        return version

    # ---- reports on an existing run (monitoring, retraining) ----------------------------------
    def log_to_run(self, run_id: str, *, metrics: dict[str, float] | None = None, step: int = 0,
                   texts: dict[str, str] | None = None, tags: dict[str, str] | None = None) -> None:
        """Metrics (at ``step``), text artifacts and tags added to a run, finished or not."""
        import time

        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, int(step)) for k, v in (metrics or {}).items()
                 if isinstance(v, (int, float)) and not math.isnan(float(v)) and not math.isinf(float(v))]
        run_tags = [RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()]
        for start in range(0, max(len(batch), 1), 500):
            self.client.log_batch(run_id, metrics=batch[start:start + 500], tags=run_tags if start == 0 else [])
        for name, text in (texts or {}).items():
            self.client.log_text(run_id, text, name)

    def artifact_dirs(self, run_id: str, path: str) -> list[str]:
        """Sub-folders of ``path`` in a run's artifacts (e.g. its monitoring reports)."""
        return [a.path for a in self.client.list_artifacts(run_id, path) if a.is_dir]

    def read_text(self, run_id: str, path: str) -> str:
        """A text artifact of a run."""
        mlflow = _mlflow()
        return mlflow.artifacts.load_text(f"{self.artifact_uri(run_id).rstrip('/')}/{path}")

    def artifact_uri(self, run_id: str, name: str = "") -> str:
        run = self.client.get_run(run_id)
        return f"{run.info.artifact_uri.rstrip('/')}/{name}" if name else run.info.artifact_uri

    # ---- registry -----------------------------------------------------------------------------
    def aliased(self, alias: str) -> ModelRef | None:
        """The version carrying ``alias``, or ``None``."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(MODEL_NAME, alias)
        except MlflowException:
            return None
        return ModelRef(f"models:/{MODEL_NAME}@{alias}", MODEL_NAME, str(mv.version), alias, mv.run_id)

    def champion(self) -> ModelRef | None:
        """The version carrying the ``champion`` alias, or ``None``."""
        return self.aliased(CHAMPION_ALIAS)

    def set_alias(self, version: str | int, alias: str) -> ModelRef:
        """Give ``alias`` (``champion`` or ``challenger``) to a registered version."""
        from mlflow.exceptions import MlflowException

        if alias not in ALIASES:
            raise ReturnRiskError(f"alias {alias!r} is not one of {', '.join(ALIASES)}")
        try:
            mv = self.client.get_model_version(MODEL_NAME, str(version))
        except MlflowException:
            raise ModelNotFoundError(
                f"model {MODEL_NAME!r} has no version {version} in {self.tracking_uri}: "
                f"list versions with `returnrisk models --tracking-uri {self.tracking_uri}`"
            ) from None
        self.client.set_registered_model_alias(MODEL_NAME, alias, str(version))
        return ModelRef(f"models:/{MODEL_NAME}@{alias}", MODEL_NAME, str(mv.version), alias, mv.run_id)

    def set_champion(self, version: str | int) -> ModelRef:
        return self.set_alias(version, CHAMPION_ALIAS)

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
            aliases = dict(self.client.get_registered_model(MODEL_NAME).aliases or {})
        except MlflowException:
            return []
        by_version: dict[str, list[str]] = {}
        for alias, version in sorted(aliases.items()):   # search results do not carry the aliases
            by_version.setdefault(str(version), []).append(alias)
        out = []
        for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
            try:
                run = self.client.get_run(mv.run_id) if mv.run_id else None
            except MlflowException:
                run = None
            run_tags = dict(run.data.tags) if run else {}
            out.append({
                "version": str(mv.version),
                "aliases": by_version.get(str(mv.version), []),
                "run_id": mv.run_id,
                "run_name": run.info.run_name if run else None,
                "as_of": run_tags.get("returnrisk.as_of"),
                "created": mv.creation_timestamp,
                "metrics": dict(run.data.metrics) if run else {},
                "tags": dict(mv.tags or {}),
            })
        return out


