#!/usr/bin/env bash
# make demo: train on the demo shop, then serve it on HOST:PORT with demo keys.
# Usage: scripts/demo.sh BIN_DIR DEMO_DIR HOST PORT
set -euo pipefail
BIN=${1:-.venv/bin}; DEMO=${2:-demo-shop}; HOST=${3:-127.0.0.1}; PORT=${4:-8000}
MERCHANT_KEY=${RETURNRISK_DEMO_MERCHANT_KEY:-demo-merchant-key}
ADMIN_KEY=${RETURNRISK_DEMO_ADMIN_KEY:-demo-admin-key}

echo "== training on the demo shop (${DEMO}) =="
"$BIN/returnrisk" train --data "$DEMO"

read -r PRODUCT SIZE CUSTOMER < <("$BIN/python" - "$DEMO" <<'PY'
import sys, pandas as pd
demo = sys.argv[1]
truth = pd.read_csv(f"{demo}/truth/products.csv")
lines = pd.read_csv(f"{demo}/order_lines.csv", usecols=["customer_id", "product_id", "size"])
small = truth[truth["runs_small"]]["product_id"]
sold = lines[lines["product_id"].isin(small) & lines["size"].notna()]
top = sold["product_id"].value_counts().index[0]
size = sold[sold["product_id"] == top]["size"].value_counts().index[0]
customer = lines["customer_id"].value_counts().index[0]
print(top, size, customer)
PY
)

BASE="http://${HOST}:${PORT}"
cat <<TXT

== serving the champion on ${BASE} (Ctrl-C to stop) ==
  API docs (OpenAPI):  ${BASE}/docs
  risk for a visitor:  curl '${BASE}/v1/products/${PRODUCT}/risk?size=${SIZE}'
  size advice:         curl '${BASE}/v1/products/${PRODUCT}/size-advice'
  a known customer (server to server, merchant key; a browser sends a signed customer token instead,
  see docs/storefront.md):
    risk, in French:   curl -H 'Authorization: Bearer ${MERCHANT_KEY}' '${BASE}/v1/products/${PRODUCT}/risk?size=${SIZE}&customer_id=${CUSTOMER}&lang=fr'
    size advice:       curl -H 'Authorization: Bearer ${MERCHANT_KEY}' '${BASE}/v1/products/${PRODUCT}/size-advice?customer_id=${CUSTOMER}'
    score a basket:    curl -X POST ${BASE}/v1/score -H 'Authorization: Bearer ${MERCHANT_KEY}' -H 'content-type: application/json' \\
                         -d '{"lines":[{"product_id":"${PRODUCT}","size":"${SIZE}","customer_id":"${CUSTOMER}"}]}'
  fix suggestions:     curl -H 'Authorization: Bearer ${MERCHANT_KEY}' '${BASE}/v1/fixes?limit=5'
  dashboard:           ${BASE}/dashboard   (key: ${MERCHANT_KEY})
  model runs:          $BIN/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db
  merchant key: ${MERCHANT_KEY}   admin key: ${ADMIN_KEY}

TXT
export RETURNRISK_MERCHANT_API_KEYS="$MERCHANT_KEY"
export RETURNRISK_ADMIN_API_KEYS="$ADMIN_KEY"
export RETURNRISK_DATA_DIR="$DEMO"
export RETURNRISK_SECURE_COOKIES=false
# the service database: created if new, brought up to this version's schema if made by an earlier one
"$BIN/returnrisk" db upgrade
exec "$BIN/returnrisk" serve --host "$HOST" --port "$PORT"
