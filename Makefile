# Two commands on a fresh machine: `make test` and `make demo`. Each builds .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test demo unit lint bench up down clean chromium

# The web page's browser tests (tests/integration/test_web_page.py) drive Debian's Chromium through
# playwright, pointed at this executable (playwright's own browser download is never used).
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest -m unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

demo: $(STAMP)
	$(BIN)/skystream demo

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

up: $(STAMP)
	$(BIN)/skystream up --detach

down: $(STAMP)
	$(BIN)/skystream down

chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "the browser tests need Debian's chromium, which is missing: installing it (apt-get install -y chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		&& echo "installed $$($(CHROMIUM) --version 2>/dev/null)"; \
	else \
		echo "the browser tests need Debian's chromium at $(CHROMIUM), which is missing, and only root can install it:" >&2; \
		echo "    sudo apt-get install -y chromium      (or CHROMIUM=/path/to/chromium make test)" >&2; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) .skystream .pytest_cache .ruff_cache
