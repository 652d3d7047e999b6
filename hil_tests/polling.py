"""Waiting for something that happens in another process or thread (a board, the fleet)."""

import time


def wait_until(predicate, what="condition", timeout=30.0, interval=0.2):
    """Poll predicate until it returns something true, and return that; AssertionError naming
    `what` if it has not within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.1f s" % (what, timeout))
        time.sleep(interval)
