# tests/firmware/mp/** are MicroPython scripts, run by test_micropython_units.py under the
# micropython binary; CPython must never import them.
collect_ignore_glob = ["mp/*"]

# The fleets the firmware talks to and the heap gates' compiled trees (heapgate.py).
from heapgate import fake_fleet, heap_trees, tls_fleet  # noqa: E402,F401
