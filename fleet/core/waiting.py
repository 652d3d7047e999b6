"""Waiting with a time limit that a shutdown can always end.

Not asyncio.wait_for: on Python 3.11 a task cancelled at the moment what it waits for
completes returns normally instead of raising CancelledError (the cancel is lost). A service
loop waiting on its wake event then never ends, and the app's shutdown, which cancels and
awaits it, hangs (seen as a test client's shutdown stuck for minutes). asyncio.timeout keeps a
cancel that comes from outside (tests/fleet/test_waiting.py).
"""

import asyncio


async def within(awaitable, timeout):
    """Await `awaitable` for at most `timeout` seconds: True if it finished, False if the time
    ran out (it is then cancelled)."""
    try:
        async with asyncio.timeout(timeout):
            await awaitable
        return True
    except TimeoutError:
        return False
