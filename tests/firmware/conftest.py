# tests/firmware/mp/** are MicroPython scripts, run by test_micropython_units.py under the
# micropython binary; CPython must never import them.
collect_ignore_glob = ["mp/*"]
