VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test run down bench clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The browser tests drive Debian's Chromium through Playwright (browser downloads are not possible here, so never
# `playwright install`); installed only when missing. Needs root, as CI has.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

test: $(STAMP) browser
	$(PY) -m pytest -q --durations=25

# Starts Ray and the app (left running: `telco down` stops them), plays the dropping-internet scenario over HTTP
# turn by turn, then prints the URLs of the API docs, the Ray dashboard and the web screens (chat, desk, ops).
run: $(STAMP)
	$(VENV)/bin/telco up
	$(VENV)/bin/telco scenarios run --runner api --only bb-drops-overheating-wfh --verbose
	$(VENV)/bin/telco status
	$(PY) -m serve.urls

down:
	$(VENV)/bin/telco down

bench: $(STAMP)
	$(PY) bench/generator.py --customers 100000

clean:
	rm -rf $(VENV) .pytest_cache
