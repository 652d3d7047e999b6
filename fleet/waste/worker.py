"""A process of its own for planning: forecasts for every bin and PyVRP's search.

In the server's process they would share the GIL with the event loop that answers devices:
PyVRP holds it up to ~0.2 s at a stretch (measured: a 1 ms sleep on the loop's thread took up to
195 ms during a 1,000-bin solve), so an alarm could wait behind a plan. One worker process,
started on the first plan (spawn: a fresh interpreter, never a fork of a threaded server) and kept
for the next; a plan waits for the one before it. docs/performance.md measures a device request
during a 1,000-bin plan.
"""

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

APART = True                    # False: run in the caller's thread (benchmarks compare the two)
_pool = [None]
_lock = threading.Lock()


def _executor():
    with _lock:
        if _pool[0] is None:
            _pool[0] = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return _pool[0]


def call(fn, *args, **kwargs):
    """fn(*args, **kwargs) in the planning process (fn and its arguments picklable); its result,
    or the exception it raised. A worker that died (killed, out of memory) is replaced once."""
    if not APART:
        return fn(*args, **kwargs)
    for attempt in (1, 2):
        try:
            return _executor().submit(fn, *args, **kwargs).result()
        except BrokenProcessPool:
            with _lock:
                _pool[0] = None
            if attempt == 2:
                raise


def shutdown():
    with _lock:
        pool, _pool[0] = _pool[0], None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
