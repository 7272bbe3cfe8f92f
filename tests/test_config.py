"""returnrisk.config: one Economics for the CLI and the service, one default model URI, no stray env reads."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from returnrisk.config import DEFAULT_ECONOMICS, DEFAULT_MODEL_URI, Economics, read_settings
from returnrisk.errors import InputError
from returnrisk.fixes.params import FixParams
from returnrisk.serving.settings import Settings

SRC = Path(__file__).resolve().parents[1] / "src" / "returnrisk"

#: The environment variable names in use before Economics existed: a contract, they must keep working.
ENV_NAMES = {
    "RETURNRISK_RETURN_COST_PER_RETURN": ("return_cost_per_return", "9.5", 9.5),
    "RETURNRISK_RETURN_COST_PER_UNIT": ("return_cost_per_unit", "7.5", 7.5),
    "RETURNRISK_MARGIN_LOSS_RATE": ("margin_loss_rate", "0.25", 0.25),
    "RETURNRISK_REFUND_TARGET_DAYS": ("refund_target_days", "3", 3.0),
    "RETURNRISK_HANDLING_MINUTES_PER_RETURN": ("handling_minutes_per_return", "20", 20.0),
    "RETURNRISK_FLAG_THRESHOLD": ("flag_threshold", "0.9", 0.9),
    "RETURNRISK_CURRENCY": ("currency", "usd", "USD"),
}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No RETURNRISK_* variable and no .env file: only what the test sets."""
    for name in list(os.environ):
        if name.startswith("RETURNRISK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults():
    e = Economics.model_construct()
    assert (e.return_cost_per_return, e.return_cost_per_unit, e.margin_loss_rate, e.refund_target_days,
            e.handling_minutes_per_return, e.flag_threshold, e.currency) == (12.0, 0.0, 0.15, 5.0, 12.0, 0.95, "EUR")
    assert DEFAULT_ECONOMICS == e
    # the library's own defaults are those of Economics, not copies (a fix's cost: one return, a parcel)
    assert (FixParams().flag_threshold, FixParams().return_cost_per_unit, FixParams().margin_loss_rate) == \
        (0.95, 12.0, 0.15)


@pytest.mark.parametrize("variable", sorted(ENV_NAMES))
def test_every_environment_name_in_use_still_works_for_cli_and_service(clean_env, variable):
    field, text, value = ENV_NAMES[variable]
    clean_env.setenv(variable, text)
    assert getattr(read_settings(Economics), field) == value          # what the CLI reads
    assert getattr(read_settings(Settings).economics, field) == value  # what the service reads
    assert getattr(Economics(), field) == value


def test_dotenv_file_is_read_like_the_environment(clean_env, tmp_path):
    (tmp_path / ".env").write_text("RETURNRISK_FLAG_THRESHOLD=0.8\nRETURNRISK_MAX_LINES=7\n")
    settings = read_settings(Settings)
    assert settings.economics.flag_threshold == 0.8 and settings.max_lines == 7
    assert read_settings(Economics).flag_threshold == 0.8
    assert Settings(_env_file=None).economics.flag_threshold == 0.95    # no .env: for the embedded economics too


def test_service_settings_keep_only_service_matters():
    economics_fields = set(Economics.model_fields)
    assert not economics_fields & set(Settings.model_fields), "economics belong to Economics only"
    assert Settings.model_fields["economics"].annotation is Economics
    assert Settings.model_fields["model_uri"].default == DEFAULT_MODEL_URI


@pytest.mark.parametrize("variable, text, says", [
    ("RETURNRISK_FLAG_THRESHOLD", "0.3", "greater than or equal to 0.5"),
    ("RETURNRISK_MARGIN_LOSS_RATE", "1.5", "less than or equal to 1"),
    ("RETURNRISK_REFUND_TARGET_DAYS", "soon", "valid number"),
    ("RETURNRISK_CURRENCY", "euros", "not an ISO 4217 currency code"),
])
def test_an_invalid_value_names_the_variable(clean_env, variable, text, says):
    clean_env.setenv(variable, text)
    for cls in (Economics, Settings):
        with pytest.raises(InputError, match=rf"{variable}='{text}' is invalid: .*{says}"):
            read_settings(cls)


def test_cli_reads_economics_from_the_environment_and_reports_bad_values(tmp_path):
    from returnrisk.demo.generator import generate_demo_shop

    generate_demo_shop(tmp_path / "shop", n_lines=1500, seed=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNRISK_")}
    command = [sys.executable, "-m", "returnrisk", "kpis", "--data", str(tmp_path / "shop"), "--no-model",
               "--json"]
    chosen = {"RETURNRISK_REFUND_TARGET_DAYS": "2.5", "RETURNRISK_RETURN_COST_PER_UNIT": "3"}
    ok = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                        env={**env, **chosen})
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout.strip().splitlines()[-1])
    assert report["refund_target_days"] == 2.5 and report["return_cost_per_unit"] == 3.0
    bad = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**env, "RETURNRISK_REFUND_TARGET_DAYS": "-1"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "RETURNRISK_REFUND_TARGET_DAYS='-1' is invalid" in bad.stderr


def test_default_model_uri_is_the_registry_champion_and_written_once():
    from returnrisk.tracking import CHAMPION_ALIAS, MODEL_NAME

    assert DEFAULT_MODEL_URI == f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}" == "models:/returnrisk@champion"
    written = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
               if "models:/returnrisk@champion" in p.read_text(encoding="utf-8")]
    assert written == ["config.py"]


def test_cli_economics_do_not_come_from_the_server():
    for name in ("fixes_command.py", "ops_commands.py"):
        text = (SRC / "cli" / name).read_text()
        assert not re.search(r"from_settings|\bSettings\(\)", text), name
    fixes = (SRC / "cli" / "fixes_command.py").read_text()
    assert "serving" not in fixes
    # the one serving setting the CLI reads is the service database of export-returns
    ops = (SRC / "cli" / "ops_commands.py").read_text()
    assert ops.count("returnrisk.serving.settings") == 1 and "read_settings(Settings).database_url" in ops


def test_library_code_never_reads_the_environment():
    """Only the entry points (the CLI and serving/asgi.py) read os.environ or build settings from it."""
    entry_points = {"cli", "serving/asgi.py"}
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.split("/")[0] in entry_points or rel in entry_points or rel == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|os\.getenv|getenv\(|read_settings\(|\bEconomics\(\)|\bSettings\(\)", text):
            offenders.append(rel)
    assert not offenders, offenders


def test_fix_params_come_from_economics_with_options_on_top():
    economics = Economics(flag_threshold=0.9, return_cost_per_return=7.5, margin_loss_rate=0.2)
    params = FixParams.from_economics(economics, return_cost_per_unit=None, margin_loss_rate=0.1)
    assert (params.flag_threshold, params.return_cost_per_unit, params.margin_loss_rate) == (0.9, 7.5, 0.1)
    with pytest.raises(ValueError, match="flag_threshold 1.2"):
        FixParams.from_economics(economics, flag_threshold=1.2)


def test_kpi_and_forecast_defaults_are_the_economics_defaults():
    import inspect

    from returnrisk.operations.forecast import forecast_returns
    from returnrisk.operations.kpis import compute_kpis

    kpis = inspect.signature(compute_kpis).parameters
    assert kpis["refund_target_days"].default == DEFAULT_ECONOMICS.refund_target_days
    assert kpis["return_cost_per_unit"].default == DEFAULT_ECONOMICS.return_cost_per_unit
    assert kpis["return_cost_per_return"].default == DEFAULT_ECONOMICS.return_cost_per_return
    minutes = inspect.signature(forecast_returns).parameters["handling_minutes_per_return"].default
    assert minutes == DEFAULT_ECONOMICS.handling_minutes_per_return
