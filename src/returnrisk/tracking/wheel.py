"""A wheel of the running returnrisk package, logged with every model.

returnrisk is not on a package index, so a logged model carries the exact code that trained it:
the wheel goes into the model's ``code/`` folder and its relative path is the model's requirement
(``code/returnrisk-<version>-py3-none-any.whl``), which MLflow resolves from the model directory
when it builds the model's environment (``mlflow models serve``, ``mlflow.pyfunc.load_model`` in
a new virtual environment).

The wheel is written directly (PEP 427: a zip of the package with its ``.dist-info``) from the
package directory that is imported — a checkout or an installed copy alike — so it needs no build
backend, no network and writes nothing into the source tree; the same code gives the same bytes.
Its dependencies are the project's (``pyproject.toml`` of a checkout, else the installed metadata),
extras left out.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import logging
import tomllib
import zipfile
from pathlib import Path

import returnrisk

__all__ = ["build_wheel", "wheel_name"]

log = logging.getLogger(__name__)

_EPOCH = (1980, 1, 1, 0, 0, 0)


def wheel_name(version: str | None = None) -> str:
    return f"returnrisk-{version or returnrisk.__version__}-py3-none-any.whl"


def _dependencies(package: Path) -> tuple[list[str], str]:
    """``(requirements, requires-python)`` of the project, without extras."""
    pyproject = package.parents[1] / "pyproject.toml"
    if package.parent.name == "src" and pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == "returnrisk":
            return list(project.get("dependencies", [])), project.get("requires-python", ">=3.11")
    try:
        requires = importlib.metadata.requires("returnrisk") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    return [r for r in requires if "extra ==" not in r], ">=3.11"


def _files(package: Path) -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            out.append((f"returnrisk/{path.relative_to(package).as_posix()}", path.read_bytes()))
    return out


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(out_dir: str | Path) -> Path:
    """Write ``returnrisk-<version>-py3-none-any.whl`` of the imported package into ``out_dir``."""
    package = Path(returnrisk.__file__).resolve().parent
    version = returnrisk.__version__
    requires, python = _dependencies(package)
    info = f"returnrisk-{version}.dist-info"
    metadata = "\n".join([
        "Metadata-Version: 2.1", "Name: returnrisk", f"Version: {version}",
        "Summary: Calibrated return risk per reason, size advice, fix suggestions and returns operations.",
        "License: MIT", f"Requires-Python: {python}", *(f"Requires-Dist: {r}" for r in requires), "",
    ])
    entries = _files(package) + [
        (f"{info}/METADATA", metadata.encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: returnrisk.tracking.wheel\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n"),
        (f"{info}/entry_points.txt", b"[console_scripts]\nreturnrisk = returnrisk.cli:main\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries) + f"{info}/RECORD,,\n"
    entries.append((f"{info}/RECORD", record.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in entries:
            item = zipfile.ZipInfo(name, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(item, data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel_name(version)
    target.write_bytes(buffer.getvalue())
    log.debug("wrote %s (%d files)", target, len(entries))
    return target
