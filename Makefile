# returnrisk — the two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
DEMO   ?= demo-shop
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install demo demo-data test bench clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[train,test]'
	@touch $(STAMP)

install: $(STAMP)

demo-data: install
	@test -f $(DEMO)/truth/manifest.json || $(BIN)/returnrisk demo-data --out $(DEMO)
	$(BIN)/returnrisk validate --data $(DEMO)

demo: demo-data
	@scripts/demo.sh $(BIN) $(DEMO) $(HOST) $(PORT)

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) mlruns $(DEMO) test-output .pytest_cache
