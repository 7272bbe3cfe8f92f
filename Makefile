# returnrisk — the two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
DEMO   ?= demo-shop
HOST   ?= 127.0.0.1
PORT   ?= 8000
# test processes (pytest-xdist; test files stay whole on one process): 2 fits the 2-core CI machine
TEST_WORKERS ?= 2

.PHONY: install install-prod demo demo-data test bench clean stack-up stack-down

# scripts/install.sh is the one install command: the Dockerfile's build stage runs it too
$(STAMP): pyproject.toml requirements.lock scripts/install.sh
	PYTHON=$(PYTHON) scripts/install.sh $(VENV) test,postgres editable
	@touch $(STAMP)

install: $(STAMP)

# what the Docker image installs: the service with the PostgreSQL driver, no test tools
install-prod:
	PYTHON=$(PYTHON) scripts/install.sh $(VENV) postgres

# PostgreSQL + MLflow server + two API workers, natively (see docs/deploy.md)
stack-up: install
	scripts/stack.sh up
stack-down:
	scripts/stack.sh down

demo-data: install
	@test -f $(DEMO)/truth/manifest.json || $(BIN)/returnrisk demo-data --out $(DEMO)
	$(BIN)/returnrisk validate --data $(DEMO)

demo: demo-data
	@scripts/demo.sh $(BIN) $(DEMO) $(HOST) $(PORT)

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) mlruns $(DEMO) test-output .pytest_cache
