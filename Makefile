# The README's two commands: `make demo` and `make test`. Both set up everything they need.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install browser i18n

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Browser tests drive Debian's chromium; Playwright's own browser download is not used.
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

demo: install
	$(VENV)/bin/fleet demo

test: install browser
	$(PY) -m pytest

# Translations (docs/i18n.md): extract the strings of pages, scripts and CLI help, then merge them
# into the zh_CN and en catalogs; translate what is new, no build step follows.
i18n: install
	mkdir -p var
	$(VENV)/bin/pybabel -q extract -F fleet/i18n/babel.cfg -o var/fleet.pot --sort-by-file -w 100 \
		--project district-devices --version 0.1.0 --copyright-holder district-devices --msgid-bugs-address "" .
	$(VENV)/bin/pybabel update -i var/fleet.pot -d fleet/i18n/locale -D fleet -w 100 --ignore-obsolete --previous
