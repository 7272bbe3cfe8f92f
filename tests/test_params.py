"""Training parameters: dataclass defaults only, params.yaml an override validated at every level."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import returnrisk
from returnrisk.errors import InputError
from returnrisk.pipeline.params import (
    DEFAULT_PARAMS_FILE,
    TrainParams,
    flatten,
    load_params,
    params_layout,
    parse_params,
)

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# --- every parameter and its default"


def _template() -> dict:
    """The commented-out YAML block of the packaged params.yaml, uncommented."""
    text = DEFAULT_PARAMS_FILE.read_text(encoding="utf-8")
    block = text[text.index(MARKER):].splitlines()[1:]
    assert block and all(line.startswith("#") for line in block if line.strip()), "only commented lines"
    return yaml.safe_load("\n".join(line[1:] for line in block))


def test_packaged_file_overrides_nothing_and_lists_every_parameter_with_its_code_default():
    assert load_params() == TrainParams() == load_params("")
    assert yaml.safe_load(DEFAULT_PARAMS_FILE.read_text(encoding="utf-8")) is None   # comments only
    template = _template()
    assert parse_params(template) == TrainParams()
    # every key of the code is in the template, with the code's value (they cannot drift apart)
    assert flatten(template) == flatten(params_layout())


def test_overrides_change_only_what_they_name():
    params = parse_params({"split": {"refit": False}, "model": {"return_model": {"learning_rate": 0.2}},
                           "features": {"smoothing": {"shop": 4}}, "data": None})
    defaults = TrainParams()
    assert params.refit is False and params.window_days == defaults.window_days
    assert params.model.return_model["learning_rate"] == 0.2
    assert params.model.return_model["num_leaves"] == defaults.model.return_model["num_leaves"]
    assert params.model.reason_model == defaults.model.reason_model
    assert params.smoothing.shop == 4.0 and params.smoothing.category == defaults.smoothing.category
    fast = load_params(ROOT / "tests" / "fast_params.yaml")
    assert fast.model.max_rounds_return == 80 and fast.refit is False
    assert fast.tolerance_auc == defaults.tolerance_auc


@pytest.mark.parametrize("content, message", [
    ({"modle": {"seed": 1}},
     "unknown key 'modle' at the top level (did you mean 'model'?): valid keys are data, split, features, "
     "model, risk_bands, promotion"),
    ({"data": {"window": 10}},
     "unknown key 'window' in data (did you mean 'window_days'?): valid keys are window_days"),
    ({"split": {"refitt": True}},
     "unknown key 'refitt' in split (did you mean 'refit'?): valid keys are validation_days, "
     "calibration_days, refit"),
    ({"features": {"smoothing": {"shopp": 1}}},
     "unknown key 'shopp' in features.smoothing (did you mean 'shop'?): valid keys are shop, category, "
     "brand"),
    ({"features": {"smooth": {}}}, "unknown key 'smooth' in features"),
    ({"model": {"sead": 1}},
     "unknown key 'sead' in model (did you mean 'seed'?): valid keys are return_model, reason_model, "
     "max_rounds_return"),
    ({"model": {"reason_model": {"lerning_rate": 0.1}}},
     "unknown LightGBM parameter 'lerning_rate' in model.reason_model (did you mean 'learning_rate'?)"),
    ({"risk_bands": {"low": 0.5}}, "unknown key 'low' in risk_bands"),
    ({"promotion": {"tolerance": 0.1}}, "unknown key 'tolerance' in promotion"),
    ({"model": {"seed": 1.5}}, "model.seed must be a whole number, got 1.5"),
    ({"split": {"refit": "no"}}, "split.refit must be true or false, got 'no'"),
    ({"risk_bands": {"low_ratio": "low"}}, "risk_bands.low_ratio must be a number, got 'low'"),
    ({"data": 30}, "data must be a mapping of keys to values, got 30"),
    ({"split": {"validation_days": 3}}, "split.validation_days ≥ 7"),
])
def test_every_bad_key_or_value_is_an_error_naming_it(tmp_path, content, message):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(InputError) as caught:
        load_params(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_lightgbm_aliases_and_new_parameters_are_accepted():
    params = parse_params({"model": {"return_model": {"eta": 0.1, "max_depth": 6}}})
    assert params.model.return_model["eta"] == 0.1 and params.model.return_model["max_depth"] == 6


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_params(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="is a folder"):
        load_params(tmp_path)
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(InputError, match="is not valid YAML"):
        load_params(tmp_path / "bad.yaml")


def test_packaged_file_is_package_data_found_outside_a_checkout(tmp_path):
    package = Path(returnrisk.__file__).resolve().parent
    assert Path(str(DEFAULT_PARAMS_FILE)).resolve() == package / "pipeline" / "params.yaml"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch.fnmatch("pipeline/params.yaml", p) for p in patterns["returnrisk"])
    code = ("from returnrisk.pipeline.params import load_params, TrainParams, DEFAULT_PARAMS_FILE; "
            "assert DEFAULT_PARAMS_FILE.is_file(); assert load_params() == TrainParams(); print('ok')")
    env = {**os.environ, "PYTHONPATH": ""}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert "parents[3]" not in (package / "pipeline" / "params.py").read_text()


def test_the_mlflow_project_runs_the_cli_with_the_packaged_parameters():
    project = yaml.safe_load((ROOT / "training" / "MLproject").read_text())
    main = project["entry_points"]["main"]
    assert "returnrisk train" in main["command"] and "--params {params}" in main["command"]
    default = main["parameters"]["params"]["default"]
    # empty: the packaged file; a named file would be an override the project passes explicitly
    assert load_params(default or None) == TrainParams()
    assert not (ROOT / "training" / "params.yaml").exists(), "one params file: the packaged one"
    # MLflow logs the project's parameters on the run the training then logs its own on: a name
    # used by both with two values makes MLflow fail the run ("Changing param values is not allowed")
    import pandas as pd

    from returnrisk.pipeline.train import run_params

    as_of = pd.Timestamp("2026-01-01", tz="UTC")
    logged = run_params(TrainParams(), {"input_sha256": "x", "rows_products": 1}, as_of, "0.1.0")
    assert not set(main["parameters"]) & set(logged), set(main["parameters"]) & set(logged)
    assert "{cutoff}" in main["command"] and "--as-of {cutoff}" in main["command"]


def test_the_train_command_takes_an_empty_params_value_as_the_packaged_file(tmp_path):
    run = subprocess.run([sys.executable, "-m", "returnrisk", "train", "--data", str(tmp_path / "none"),
                          "--params", "", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    # the parameters were accepted: the failure is about the missing data folder
    assert run.returncode == 2 and "does not exist" in run.stdout + run.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("split:\n  refitt: true\n")
    run = subprocess.run([sys.executable, "-m", "returnrisk", "train", "--data", str(tmp_path / "none"),
                          "--params", str(bad)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 2 and "unknown key 'refitt' in split" in run.stdout + run.stderr
