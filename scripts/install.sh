#!/bin/sh
# The one install command of returnrisk, used by the Makefile (make install, make install-prod) and by the
# Dockerfile's build stage, so the two cannot drift apart.
# Usage: scripts/install.sh VENV EXTRAS [editable]
#   VENV      virtual environment to create (if missing) and install into
#   EXTRAS    comma-separated extras of pyproject.toml: "test" (make test), "postgres" (production)
#   editable  install the checkout in development mode (make install); default: a regular install
# Versions are pinned by requirements.lock (pip constraints).
set -eu
VENV=${1:?usage: scripts/install.sh VENV EXTRAS [editable]}
EXTRAS=${2:-postgres}
MODE=${3:-}
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.."
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --no-cache-dir --upgrade pip
if [ "$MODE" = "editable" ]; then
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir -c requirements.lock -e ".[$EXTRAS]"
else
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir -c requirements.lock ".[$EXTRAS]"
fi
