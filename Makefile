# The README's two commands: `make demo` and `make test`. Both set up everything they need, on a
# fresh Debian/Ubuntu machine with only python3 and make: nothing of ours needs to be on PATH.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Extra options for `fleet demo`, e.g. make demo ARGS='--port 8001 --db var/demo2/demo.db'
ARGS ?=

.PHONY: demo test install browser python-venv

# Debian splits venv's ensurepip into python3-venv; without it `python3 -m venv` cannot make a venv.
python-venv:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }

$(VENV)/.installed: pyproject.toml
	@$(MAKE) --no-print-directory python-venv
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Browser tests drive Debian's chromium; Playwright's own browser download is not used.
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

demo: install
	$(VENV)/bin/fleet demo $(ARGS)

test: install browser
	$(PY) -m pytest
