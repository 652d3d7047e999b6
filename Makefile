# The README's two commands: `make demo` and `make test`. Both set up everything they need, on a
# fresh Debian/Ubuntu machine with only python3 and make: nothing of ours needs to be on PATH.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Extra options for `fleet demo`, e.g. make demo ARGS='--port 8001 --db var/demo2/demo.db'
ARGS ?=

.PHONY: demo test install browser python-venv i18n micropython32

# Debian splits venv's ensurepip into python3-venv; without it `python3 -m venv` cannot make a venv.
python-venv:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }

$(VENV)/.installed: pyproject.toml
	@$(MAKE) --no-print-directory python-venv
	@# Reuse a venv that works; one made by another python3 (a PATH change) is made again.
	$(PY) -c 'import ssl, sqlite3' 2>/dev/null || python3 -m venv --clear $(VENV)
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

# Translations (docs/i18n.md): extract the strings of pages, scripts and CLI help, then merge them
# into the zh_CN and en catalogs; translate what is new, no build step follows.
i18n: install
	mkdir -p var
	$(VENV)/bin/pybabel -q extract -F fleet/i18n/babel.cfg -o var/fleet.pot --sort-by-file -w 100 \
		--project district-devices --version 0.1.0 --copyright-holder district-devices --msgid-bugs-address "" .
	$(VENV)/bin/pybabel update -i var/fleet.pot -d fleet/i18n/locale -D fleet -w 100 --ignore-obsolete --previous

# A 32-bit single-precision MicroPython (an ESP32's word and float) for the firmware's tests and
# heap figures; needs github.com and gcc-multilib (docs/firmware.md "Tests on a 32-bit build").
micropython32:
	benchmarks/build_micropython32.sh build/micropython32
